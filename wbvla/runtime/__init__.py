"""Deployment runtime (paper App. B): the 10 Hz VLA server and the 50 Hz robot runner over ZeroMQ.

* :mod:`.messages` / :mod:`.wire`  the versioned msgpack protocol (``deploy/PROTOCOL.md``)
* :mod:`.supervisor` / :mod:`.safety`  acceptance rules, watchdog modes, clamps and rate limits
* :mod:`.runner` / :mod:`.link`  the robot side: absolute-deadline loop, LMO, backends, sockets
* :mod:`.server`  the GPU side: any policy with ``act()`` (the VLA, or :mod:`.standin`)
* :mod:`.transport`  sockets, CURVE keys and the ZAP allow-list
* :mod:`.backends`  ``sim`` (the MuJoCo twin), ``x2`` (the AgiBot SDK seam)
"""
