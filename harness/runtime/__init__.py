"""Drive sans-IO endpoints against in-process or real ports on the rig's clock (see `runner`)."""

from harness.runtime.inproc import InprocHub, InprocIpFabric
from harness.runtime.runner import Node, Runner, RunnerError, RunResult

__all__ = ["InprocHub", "InprocIpFabric", "Node", "Runner", "RunnerError", "RunResult"]
