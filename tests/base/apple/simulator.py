"""The simulated Apple device lives in the product (`devices.simulator.apple`, used by the
`simulate_devices` command); tests and benchmarks import it from here too."""

from devices.simulator.apple import (  # noqa: F401
    TOPIC,
    SimulatedDevice,
    Transport,
    mdm_signature,
    parse_command,
    shared_key,
)
