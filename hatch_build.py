"""Build hook: ship the repository's data/ folder inside regular wheels as ha_toolkit/data.

Editable installs are left alone: they read data/ straight from the checkout, so an edited
CSV is seen at once and no stale copy lands in site-packages.
"""

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class DataBuildHook(BuildHookInterface):
    """Add ``data/`` -> ``ha_toolkit/data`` to the wheel's forced inclusions."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "standard":
            build_data["force_include"]["data"] = "ha_toolkit/data"
