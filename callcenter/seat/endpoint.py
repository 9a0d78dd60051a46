"""pjsua2's endpoint and account set up as every softphone here needs them (seat, survey).

pjsua2 is passed in (`pj`), never imported here: this module loads without it.
"""

import socket
from typing import Any


def local_address(edge_host: str) -> str:
    """The address of this machine on the way to the edge: loopback for an edge on loopback,
    the LAN address for an edge on another PC (the softphone's Contact must be reachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((edge_host, 9))  # UDP: nothing is sent, the kernel picks the route
        return str(probe.getsockname()[0])


def start_endpoint(
    pj: Any,
    sip_port: int,
    log_level: int,
    max_calls: int | None = None,
    *,
    edge_host: str = "127.0.0.1",
    transport: str = "udp",
    tls_ca_file: str = "",
    clocked: bool = True,
) -> Any:
    """Create and start pjsua2's endpoint as every softphone here needs it: no threads of its
    own (one loop polls `libHandleEvents`), SIP on `sip_port` (UDP, or TLS that checks the
    edge's certificate), no sound card.

    `clocked` False: the conference bridge starts without a clock (`clock_bridge` starts it);
    otherwise the null sound device clocks it every 20 ms from the start.
    """
    ep = pj.Endpoint()
    ep.libCreate()
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = True
    if max_calls is not None:
        ep_cfg.uaConfig.maxCalls = max_calls
    ep_cfg.logConfig.level = log_level
    ep_cfg.logConfig.consoleLevel = log_level
    ep.libInit(ep_cfg)
    tp_cfg = pj.TransportConfig()
    tp_cfg.port = sip_port
    tp_cfg.boundAddress = local_address(edge_host)
    if transport == "tls":
        tls = tp_cfg.tlsConfig
        tls.CaListFile = tls_ca_file
        # Only an edge whose certificate our CA issued, for the name or address we dial
        # (pjsip matches it against the next hop's host); never older than TLS 1.2.
        tls.verifyServer = True
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tp_cfg)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tp_cfg)
    ep.libStart()
    clock_bridge(ep, clocked)
    return ep


def clock_bridge(ep: Any, on: bool) -> None:
    """Clock the conference bridge every 20 ms (the null sound device), or not at all.

    Unclocked, nothing moves between the bridge's ports: no call's audio is mixed, sent, played
    or recorded, and connecting or removing ports waits for the next tick (pjmedia queues those
    operations for the clock). A softphone clocks it whenever a call's audio is connected or a
    recording or player exists, and for a moment after, so that the queued removals run (a
    recording's WAV file is closed then).
    """
    if on:
        ep.audDevManager().setNullDev()
    else:
        ep.audDevManager().setNoDev()


def reach_edge(acc_cfg: Any, edge_host: str, edge_port: int, tls_port: int | None) -> None:
    """Register at the edge, over UDP to `edge_port` or, with `tls_port`, over TLS.

    Over TLS the edge is also the account's outbound proxy: every request goes to it over
    TLS while request URIs stay what they are over UDP (sip:NUMBER@edge), so the edge routes
    them alike.
    """
    if tls_port is None:
        acc_cfg.regConfig.registrarUri = f"sip:{edge_host}:{edge_port}"
        return
    edge = f"sip:{edge_host}:{tls_port};transport=tls"
    acc_cfg.regConfig.registrarUri = edge
    acc_cfg.sipConfig.proxies.append(f"{edge};lr")


def account_config(
    pj: Any, cfg: Any, id_uri: str, *, refresh_seconds: int, rtp_port_range: int
) -> Any:
    """The account of a seat or survey process at the edge (`cfg`: a SeatConfig or a
    SurveyConfig): registered over its transport, retried within seconds while the edge or
    the app is not up yet (503), with its digest credentials and RTP ports."""
    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = id_uri
    tls_port = cfg.tls_port if cfg.transport == "tls" else None
    reach_edge(acc_cfg, cfg.edge_host, cfg.edge_port, tls_port)
    acc_cfg.regConfig.timeoutSec = refresh_seconds
    acc_cfg.regConfig.firstRetryIntervalSec = 2
    acc_cfg.regConfig.retryIntervalSec = 10
    if cfg.password is not None:
        acc_cfg.sipConfig.authCreds.append(digest_credentials(pj, cfg.name, cfg.password))
    if cfg.rtp_port:
        acc_cfg.mediaConfig.transportConfig.port = cfg.rtp_port
        acc_cfg.mediaConfig.transportConfig.portRange = rtp_port_range
    return acc_cfg


def digest_credentials(pj: Any, name: str, password: str) -> Any:
    """pjsua2's credentials for our account at the edge (any realm it challenges with)."""
    return pj.AuthCredInfo("digest", "*", name, 0, password)


def active_audio(pj: Any, call: Any) -> Any:
    """The call's audio media once it flows (an active audio stream), else None."""
    audio = None
    info = call.getInfo()  # keep it: its media vector dies with it (SWIG)
    for mi in info.media:
        if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            audio = call.getAudioMedia(mi.index)
    return audio
