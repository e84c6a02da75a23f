"""Read captures (pcap/pcapng) into wire events: HomePlug frames, SDP datagrams, reassembled TCP streams."""

from harness.capture.reader import (
    CaptureError,
    CaptureReader,
    CaptureStats,
    WireDatagram,
    WireError,
    WireEvent,
    WireFrame,
    WireStream,
    WireTcp,
)

__all__ = ["CaptureError", "CaptureReader", "CaptureStats", "WireDatagram", "WireError", "WireEvent", "WireFrame",
           "WireStream", "WireTcp"]
