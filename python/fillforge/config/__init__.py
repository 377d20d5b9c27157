"""One configuration for simulation, paper and live: a pydantic settings tree read from YAML
(:mod:`.model`, :mod:`.loading`), and the map from every key to the fillforge feature it sets
(:mod:`.mapping`, ``fillforge config check``). See ``docs/config.md``.

Layer 6: it builds the simulator's, the execution layer's and the brokers' settings from the
file, so it sits above them all; only the agent and the command line import it.
"""

from fillforge.config.loading import (
    ConfigFile,
    SecretSource,
    load_config,
    parse_config,
    read_config,
)
from fillforge.config.model import Config, Mode

__all__ = [
    "Config",
    "ConfigFile",
    "Mode",
    "SecretSource",
    "load_config",
    "parse_config",
    "read_config",
]
