"""Kernel IP port on real interfaces (veth pairs in namespaces; root): addresses from the interface, dynamic
ports, multicast SDP, typed errors."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness.clock import MonotonicClock
from harness.runtime import Node, Runner
from harness.runtime.kernel_ip import (
    KernelIpPort,
    NoLinkLocalAddress,
    NoSuchInterface,
    PortInUse,
    interface_index,
    link_local_address,
    mac_address,
)
from harness.runtime.netns import VethPair, inside
from stack import sansio as io
from stack.timers import SpecTimer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, veth pairs)")
T = SpecTimer("test bound", 2.0)


@pytest.fixture(scope="module")
def veth():
    with VethPair.build() as pair:
        yield pair


def test_no_such_interface_names_the_ones_there():
    with pytest.raises(NoSuchInterface, match=r"interface 'nope0' does not exist \(here: .*lo"):
        interface_index("nope0")


def test_addresses_come_from_the_interface(veth):
    with inside(veth.ns["evse"]):
        mac, ip = mac_address(veth.iface), link_local_address(veth.iface)
        shown = subprocess.run(["ip", "-6", "addr", "show", veth.iface], capture_output=True, text=True).stdout
        link = subprocess.run(["ip", "link", "show", veth.iface], capture_output=True, text=True).stdout
    assert ip.startswith("fe80::") and ip in shown
    assert mac in link


def test_interface_without_link_local_address_is_a_typed_error(veth):
    ns = veth.ns["pev"]
    subprocess.run(["ip", "-n", ns, "link", "add", "down0", "type", "veth", "peer", "name", "down1"], check=True)
    try:  # down: no link-local address at all
        with inside(ns), pytest.raises(NoLinkLocalAddress, match=r"down0 has no IPv6 link-local address \(is it up"):
            link_local_address("down0", wait=None)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.down0.disable_ipv6=1"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "down0", "up"], check=True)
        with inside(ns), pytest.raises(NoLinkLocalAddress, match="IPv6 is disabled on it"):
            link_local_address("down0", wait=None)
    finally:
        subprocess.run(["ip", "-n", ns, "link", "del", "down0"], check=True)


class Recorder:
    def __init__(self, script=()):
        self.events, self.script = [], list(script)

    def handle(self, event, now):
        self.events.append(event)
        if isinstance(event, io.Start) and self.script:
            return self.script.pop(0)
        return []

    def next_deadline(self):
        return None


def test_listener_picks_a_dynamic_port_and_a_fixed_port_can_clash(veth):
    runner = Runner(MonotonicClock())
    server = Recorder([[io.Listen(0), io.Listen(15118)]])
    node, port = KernelIpPort.make_node(runner, "evse", server, veth.iface, netns=veth.ns["evse"])
    try:
        runner.run(lambda: sum(isinstance(e, io.Listening) for e in server.events) == 2, T)
        ports = [e.port for e in server.events if isinstance(e, io.Listening)]
        assert 49152 <= ports[0] <= 65535 and ports[1] == 15118
        with pytest.raises(PortInUse, match="listen on TCP port 15118: address already in use"):
            port.listen(15118, 0.0)
    finally:
        port.close()


def test_multicast_sdp_and_tcp_between_namespaces(veth):
    runner = Runner(MonotonicClock())
    server = Recorder([[io.BindUdp(15118, "ff02::1"), io.Listen(0)]])
    client = Recorder([[io.SendDatagram(b"hello", ("ff02::1", 15118))]])
    evse, evse_port = KernelIpPort.make_node(runner, "evse", server, veth.iface, netns=veth.ns["evse"])
    pev, pev_port = KernelIpPort.make_node(runner, "pev", client, veth.iface, netns=veth.ns["pev"])
    try:
        assert runner.run(lambda: any(isinstance(e, io.DatagramReceived) for e in server.events), T)
        datagram = next(e for e in server.events if isinstance(e, io.DatagramReceived))
        assert datagram.data == b"hello" and datagram.src[0] == pev.ipv6 and datagram.dst == ("ff02::1", 15118)
        listening = next(e for e in server.events if isinstance(e, io.Listening))
        pev_port.open_stream(5, (evse.ipv6, listening.port), runner.clock.now())
        assert runner.run(lambda: any(isinstance(e, io.StreamOpened) for e in server.events), T)
        accepted = next(e for e in server.events if isinstance(e, io.StreamOpened))
        assert accepted.peer[0] == pev.ipv6 and accepted.local == (evse.ipv6, listening.port)
        pev_port.send_stream(5, b"\x01\xfe\x80\x01\x00\x00\x00\x00", runner.clock.now())
        assert runner.run(lambda: any(isinstance(e, io.StreamData) for e in server.events), T)
        pev_port.close_stream(5, runner.clock.now())
        assert runner.run(lambda: any(isinstance(e, io.StreamClosed) for e in server.events), T)
        refused_at = runner.clock.now()
        pev_port.open_stream(6, (evse.ipv6, 1), refused_at)
        assert runner.run(lambda: any(isinstance(e, io.StreamClosed) and e.conn == 6 for e in client.events), T)
        assert next(e for e in client.events if isinstance(e, io.StreamClosed) and e.conn == 6).error == \
            "connection refused"
    finally:
        evse_port.close()
        pev_port.close()


def test_node_records_use_real_addresses(veth):
    runner = Runner(MonotonicClock())
    node = runner.add(Node("x", Recorder(), "02:00:00:00:00:01", "fe80::1"))
    port = KernelIpPort.attach(runner, node, veth.iface, netns=veth.ns["evse"])
    try:
        assert port.ipv6 != "fe80::1" and port.ipv6.startswith("fe80::") and port.scope > 0
    finally:
        port.close()
