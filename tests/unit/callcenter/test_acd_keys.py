"""The ACD's Redis key layout (callcenter.acd.keys): the strings stay as they were, and the
Lua scripts (callcenter.acd.scripts) build only keys that keys.py documents."""

import re
from collections.abc import Callable

import pytest

from callcenter.acd import keys
from callcenter.acd import scripts
from callcenter.acd.keys import DEFAULT_PREFIX
from callcenter.acd.keys import AcdKeys
from callcenter.acd.keys import command_channel

# Every key under the default prefix, exactly as a running Redis holds it: changing one makes
# the hall's live data unreadable.
PINNED: dict[str, tuple[str, Callable[[AcdKeys], str]]] = {
    "seat": ("acd:seat:s01", lambda k: k.seat("s01")),
    "call": ("acd:call:c-1@10.0.0.1", lambda k: k.call("c-1@10.0.0.1")),
    "alive": ("acd:alive:s01", lambda k: k.alive("s01")),
    "softphone": ("acd:softphone:s01", lambda k: k.softphone("s01")),
    "user": ("acd:user:42", lambda k: k.user(42)),
    "spy_token": ("acd:spytoken:abc", lambda k: k.spy_token("abc")),
    "transfer_token": ("acd:xfer:abc", lambda k: k.transfer_token("abc")),
    "command_channel": ("acd:seatcmd:s01", lambda k: k.command_channel("s01")),
    "seat_link": ("acd:seatlink:s01", lambda k: k.seat_link("s01")),
    "seat_box": ("acd:seatbox:s01", lambda k: k.seat_box("s01")),
    "seat_poll": ("acd:seatpoll:s01", lambda k: k.seat_poll("s01")),
    "seat_uploads": ("acd:seatrec:s01", lambda k: k.seat_uploads("s01")),
    "seats": ("acd:seats", lambda k: k.seats),
    "idle": ("acd:idle", lambda k: k.idle),
    "queue": ("acd:queue", lambda k: k.queue),
    "ringing": ("acd:ringing", lambda k: k.ringing),
    "wrapup": ("acd:wrapup", lambda k: k.wrapup),
    "events": ("acd:events", lambda k: k.events),
    "open": ("acd:open", lambda k: k.open),
    "unsynced": ("acd:unsynced", lambda k: k.unsynced),
}

_PUBLIC = {n for n in dir(AcdKeys) if not n.startswith("_") and n != "prefix"}


@pytest.mark.parametrize("member", sorted(PINNED))
def test_each_key_keeps_its_string(member: str) -> None:
    want, spell = PINNED[member]
    assert spell(AcdKeys()) == want
    assert spell(AcdKeys("acd:")) == want


def test_every_key_the_class_spells_is_pinned() -> None:
    assert _PUBLIC == set(PINNED)


def test_the_prefix_is_the_acds_default_or_the_one_given() -> None:
    assert DEFAULT_PREFIX == "acd:"
    other = AcdKeys("test-acd:1a2b:")
    assert other.seat("s1") == "test-acd:1a2b:seat:s1"
    assert other.events == "test-acd:1a2b:events"
    assert other.user("7") == other.user(7) == "test-acd:1a2b:user:7"
    assert command_channel("test-acd:1a2b:", "s1") == "test-acd:1a2b:seatcmd:s1"


def test_softphone_keys_can_be_matched_and_cut() -> None:
    k = AcdKeys()
    assert k.softphone("*") == "acd:softphone:*"
    assert k.softphone("s07")[len(k.softphone("")) :] == "s07"


# ---------------------------------------------------------------------- the documentation

_DOCUMENTED = re.compile(r"`<prefix>([a-z]+:?)")


def _documented() -> set[str]:
    return set(_DOCUMENTED.findall(keys.__doc__ or ""))


def _name(spelled: str) -> str:
    """ "acd:seat:s01" -> "seat:", "acd:seats" -> "seats"."""
    rest = spelled.removeprefix("acd:")
    return rest.split(":", 1)[0] + ":" if ":" in rest else rest


def test_the_docstring_documents_every_key_and_no_other() -> None:
    spelled = {_name(want) for want, _ in PINNED.values()}
    assert _documented() == spelled


# ---------------------------------------------------------------------- the Lua scripts

_LUA_KEY = re.compile(r"\bP \.\. '([^']*)'")
_LUA_P = re.compile(r"\bP\b")
_LUA_PREFIX_DECLARED = re.compile(r"^local P\b[^\n]*= ARGV\[1\]", re.M)


def lua_key_names(source: str) -> set[str]:
    """The key names a script builds from the prefix (`P .. 'seat:' .. seat` -> "seat:").

    :raises AssertionError: the script uses the prefix other than to build a key with a
        literal name, or declares it, or touches KEYS (the ACD passes none).
    """
    assert "KEYS[" not in source
    names = set(_LUA_KEY.findall(source))
    uses = len(_LUA_P.findall(source))
    declared = len(re.findall(r"^local P\b", source, re.M))
    assert uses == len(_LUA_KEY.findall(source)) + declared, "the prefix used otherwise"
    return names


def _scripts() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(scripts).items()
        if name.lstrip("_").isupper() and isinstance(value, str)
    }


def test_the_lua_scripts_build_only_documented_keys() -> None:
    used: set[str] = set()
    for source in _scripts().values():
        used |= lua_key_names(source)
    assert used, "no key found: the pattern no longer matches the scripts"
    assert used <= _documented(), used - _documented()
    # the keys the routing cannot do without
    assert {"seat:", "call:", "queue", "idle", "ringing", "wrapup", "events", "alive:"} <= used


def test_every_script_takes_the_prefix_from_argv_1() -> None:
    runnable = {n: s for n, s in _scripts().items() if not n.startswith("_")}
    assert {"ROUTE", "NO_ANSWER", "ANSWERED", "ENDED", "SEAT_SYNC", "RESET"} <= set(runnable)
    for name, source in runnable.items():
        assert len(_LUA_PREFIX_DECLARED.findall(source)) == 1, name


def test_the_lua_and_python_spell_a_key_alike() -> None:
    k = AcdKeys("p:")
    # what `P .. 'seat:' .. seat` and `P .. 'events'` give in Lua, with P = "p:"
    assert "p:" + "seat:" + "s01" == k.seat("s01")
    assert "p:" + "call:" + "c1" == k.call("c1")
    assert "p:" + "alive:" + "s01" == k.alive("s01")
    for name in ("seats", "idle", "queue", "ringing", "wrapup", "events"):
        assert "p:" + name == getattr(k, name)


@pytest.mark.parametrize(
    "source",
    [
        "local P = ARGV[1]\nredis.call('DEL', P .. 'waiting')",  # a key keys.py does not know
        "local P = ARGV[1]\nredis.call('DEL', P .. name)",  # a name not spelled out
        "redis.call('DEL', KEYS[1])",
    ],
)
def test_the_check_catches_a_script_that_strays(source: str) -> None:
    with pytest.raises(AssertionError):
        assert lua_key_names(source) <= _documented()
