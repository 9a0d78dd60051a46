"""Who may speak SIP to the edge: our user agents' digest credentials, the ACD's secret.

Every SIP user agent of ours (a seat softphone, a survey process, a phone registered under a
number) signs in at the Kamailio edge with digest authentication. Admins issue and rotate the
passwords in 系统管理 → 话机账号; the database keeps only HA1 = md5(name:realm:password), which
Kamailio asks for (`/acd/sip_ha1`) to check a REGISTER or an INVITE. The password is returned
once, to be shown once; a process reads it from a file (mode 0600) or the environment.

`/acd/*` answers only requests carrying the instance's ACD secret (header
`X-Hotline-Acd-Secret`): Kamailio has it in its generated configuration, seats in their
settings. It is `telephony.acd_secret` when set, else generated once into the instance folder.
"""

import datetime as dt
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from callcenter.acd.headset import PREFIX as HEADSET_PREFIX
from callcenter.acd.headset import digest_ha1 as ha1
from callcenter.acd.keys import ACD_SECRET_HEADER as ACD_SECRET_HEADER
from callcenter.models import SipAccount
from infra.audit import record_audit
from infra.db import UnitOfWork
from infra.db import utcnow
from infra.settings import Settings
from kernel.errors import NotFound
from kernel.errors import ValidationError

PASSWORD_ENV = "HOTLINE_SIP_PASSWORD"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KINDS = {"seat": "坐席话机", "survey": "自动回访外呼", "phone": "登记话机"}
_SECRET = re.compile(r"^[A-Za-z0-9_-]{24,128}$")


@dataclass(frozen=True, slots=True)
class NewSipPassword:
    id: int
    name: str
    password: str  # show it once, never store it
    rotated: bool


@dataclass(frozen=True, slots=True)
class SipAccountRow:
    id: int
    name: str
    kind: str
    kind_label: str
    note: str
    active: bool
    created_at: dt.datetime
    rotated_at: dt.datetime
    current: bool  # issued for the realm in use (a changed realm voids every password)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def issue_account(
    uow: UnitOfWork,
    actor_id: int | None,
    name: str,
    kind: str,
    note: str = "",
    *,
    realm: str,
    ip: str | None = None,
) -> NewSipPassword:
    """Make a SIP account with a fresh password and return it, the only time it is readable.

    :raises ValidationError: a bad or taken name, an unknown kind, a note too long.
    """
    name, note = name.strip(), note.strip()
    errors: dict[str, str] = {}
    if not NAME.match(name):
        errors["name"] = "账号名为 1 到 64 个字母、数字、点、下划线或短横线，例如 s05、12319"
    elif name.lower().startswith(HEADSET_PREFIX):
        # hs-SEAT is the console headset of seat SEAT, whose password the app issues itself.
        errors["name"] = f"以 {HEADSET_PREFIX} 开头的账号名留给受理工作台的网页耳机"
    if kind not in KINDS:
        errors["kind"] = "请选择账号类型"
    if len(note) > 100:
        errors["note"] = "备注不能超过100个字符"
    if errors:
        raise ValidationError(errors, "话机账号信息有误")
    password = new_password()
    now = utcnow()
    with uow:
        taken = uow.session.scalar(
            sa.select(SipAccount.id).where(sa.func.lower(SipAccount.name) == name.lower())
        )
        if taken is not None:
            raise ValidationError(
                {"name": "已有同名话机账号；如需新密码，请在下方列表中重置密码"},
                "话机账号信息有误",
            )
        row = SipAccount(
            name=name,
            kind=kind,
            note=note,
            realm=realm,
            ha1=ha1(name, realm, password),
            active=True,
            created_at=now,
            created_by_id=actor_id,
            rotated_at=now,
            rotated_by_id=actor_id,
        )
        uow.session.add(row)
        uow.session.flush()
        record_audit(
            uow.session, actor_id, "sip_account_issue", None, {"name": name, "kind": kind}, ip=ip
        )
        uow.commit()
        return NewSipPassword(row.id, name, password, rotated=False)


def rotate_password(
    uow: UnitOfWork, actor_id: int | None, account_id: int, *, realm: str, ip: str | None = None
) -> NewSipPassword:
    """Give the account a new password (the old one stops working at its next REGISTER or
    call) and enable it again if it was disabled.

    :raises NotFound: no such account.
    """
    password = new_password()
    with uow:
        row = uow.session.get(SipAccount, account_id)
        if row is None:
            raise NotFound("话机账号不存在", {"sip_account_id": account_id})
        row.realm = realm
        row.ha1 = ha1(row.name, realm, password)
        row.active = True
        row.rotated_at = utcnow()
        row.rotated_by_id = actor_id
        record_audit(uow.session, actor_id, "sip_account_rotate", None, {"name": row.name}, ip=ip)
        uow.commit()
        return NewSipPassword(row.id, row.name, password, rotated=True)


def disable_account(
    uow: UnitOfWork, actor_id: int | None, account_id: int, *, ip: str | None = None
) -> bool:
    """Refuse the account's next REGISTER and calls; False if it already was disabled.

    :raises NotFound: no such account.
    """
    with uow:
        row = uow.session.get(SipAccount, account_id)
        if row is None:
            raise NotFound("话机账号不存在", {"sip_account_id": account_id})
        if not row.active:
            return False
        row.active = False
        record_audit(uow.session, actor_id, "sip_account_disable", None, {"name": row.name}, ip=ip)
        uow.commit()
        return True


def list_accounts(uow: UnitOfWork, realm: str) -> list[SipAccountRow]:
    """Every account, active ones first, then by name."""
    with uow:
        rows = uow.session.scalars(
            sa.select(SipAccount).order_by(SipAccount.active.desc(), SipAccount.name)
        ).all()
        return [
            SipAccountRow(
                r.id,
                r.name,
                r.kind,
                KINDS.get(r.kind, r.kind),
                r.note,
                r.active,
                r.created_at,
                r.rotated_at,
                r.realm == realm,
            )
            for r in rows
        ]


def ha1_of(uow: UnitOfWork, name: str, realm: str) -> str | None:
    """The HA1 Kamailio checks `name` against, or None (unknown, disabled, other realm)."""
    with uow:
        row = uow.session.scalar(
            sa.select(SipAccount).where(SipAccount.name == name, SipAccount.active.is_(True))
        )
        if row is None or row.realm != realm:
            return None
        return row.ha1


def provision(
    uow: UnitOfWork, name: str, kind: str, realm: str, path: Path, note: str = ""
) -> bool:
    """Make sure the process `name` can sign in with the password in `path`, for processes
    the system starts itself (`hotline demo`): keep a file that still matches, otherwise
    issue or rotate a password (audited, no user) and write it. True when it wrote one."""
    try:
        known = read_password_file(path)
    except (OSError, ValueError):
        known = ""
    with uow:
        row = uow.session.scalar(sa.select(SipAccount).where(SipAccount.name == name))
        row_id = row.id if row is not None else None
        if row is not None and known and row.active and row.ha1 == ha1(name, realm, known):
            if row.realm == realm:
                return False
    if row_id is None:
        new = issue_account(uow, None, name, kind, note, realm=realm)
    else:
        new = rotate_password(uow, None, row_id, realm=realm)
    write_secret_file(path, new.password + "\n")
    return True


def read_password_file(path: Path) -> str:
    """The password in a file (its first line); a missing or empty file is an error."""
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{path} is empty")
    return text.splitlines()[0]


def write_secret_file(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def password_path(settings: Settings, name: str) -> Path:
    """Where `hotline demo` keeps the password of a process it starts: instance/sip/NAME."""
    return Path(settings.instance_path) / "sip" / f"{name}.password"


def acd_secret(settings: Settings) -> str:
    """The ACD's shared secret: the configured one, else the instance's (made on first use)."""
    if settings.telephony.acd_secret:
        return settings.telephony.acd_secret
    path = Path(settings.instance_path) / "acd_secret"
    for _ in range(2):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            text = ""
        if _SECRET.match(text):
            return text
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: of several processes starting at once, one writes and all read it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        try:
            os.write(fd, (secrets.token_urlsafe(32) + "\n").encode())
        finally:
            os.close(fd)
    text = path.read_text(encoding="ascii").strip()
    if not _SECRET.match(text):
        raise RuntimeError(f"{path} does not hold a usable secret; delete it to make a new one")
    return text


def process_password(settings: Settings, name: str, password_file: str | None) -> str:
    """The SIP password a process signs in with: `--password-file`, else the environment
    (HOTLINE_SIP_PASSWORD), else the file `hotline demo` writes (instance/sip/NAME.password).

    :raises ValueError: none of them holds a password.
    """
    if password_file:
        return read_password_file(Path(password_file))
    from_env = os.environ.get(PASSWORD_ENV, "").strip()
    if from_env:
        return from_env
    path = password_path(settings, name)
    try:
        return read_password_file(path)
    except FileNotFoundError:
        raise ValueError(
            f"no SIP password for {name}: pass --password-file, set {PASSWORD_ENV}, or issue "
            f"one in 系统管理 → 话机账号 and save it as {path}"
        ) from None
