"""A phone's audio port for our tools: a UDP socket that keeps every RTP packet it is sent.

`hotline call --record` offers it in the citizen's SDP and writes what came as a WAV; the
voice bench and the telephony tests measure and compare what callers were sent with it.
"""

import socket
import threading
import time

import numpy as np

from callcenter.edge.announcer import ulaw_decode


class Ear:
    """Every RTP packet sent to 127.0.0.1:`port`, with the moment it arrived (monotonic)."""

    def __init__(self, buffer_bytes: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if buffer_bytes:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.packets: list[tuple[float, bytes]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="ear", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                packet = self.sock.recv(2048)
            except OSError:
                continue
            if len(packet) > 12:
                self.packets.append((time.monotonic(), packet))

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()

    def audio(self) -> np.ndarray:
        """The PCMU payloads (payload type 0) decoded to 16-bit samples, in arrival order."""
        payload = b"".join(p[12:] for _, p in self.packets if p[1] & 0x7F == 0)
        return ulaw_decode(payload)
