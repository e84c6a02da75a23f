"""Turn bytes seen on a port into record fields (the record format of `harness.records`).

The same describers serve the runner's live timeline and `ccs-hil decode`, so a test timeline and a decoded
capture read alike. Each returns a dict with at least `layer` and `name`, plus `src`, `dst`, `mmtype`, `schema`,
`body`, `error`, `raw` where they apply. They never raise on bad bytes: they return a record with `error` and `raw`.
"""

from harness.describe.frames import describe_frame
from harness.describe.ip import StreamDescriber, describe_datagram

__all__ = ["describe_frame", "describe_datagram", "StreamDescriber"]
