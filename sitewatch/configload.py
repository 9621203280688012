"""Load a site file and its device profiles from YAML, reporting every problem with key path and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sitewatch.inspectioncheck import check_inspection
from sitewatch.parkingcheck import check_parking
from sitewatch.patrolcheck import check_patrol
from sitewatch.siteconfig import (
    AlarmRule,
    Device,
    DeviceConfig,
    DeviceProfile,
    Node,
    PointSpec,
    Site,
    SiteFile,
    Suppression,
)

PathParts = tuple[str | int, ...]

# Builds typed keys (so `0:` indexes as the int 0, as in the loaded data).
_KEYS = yaml.SafeLoader("")
# More keys and items than any real site file has. Aliases let a short file name a value many
# times over ("billion laughs"); past this the file is refused, before anything walks it whole.
MAX_NODES = 200_000


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file (or the profiles it uses) has problems; `problems` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _YamlDoc:
    """Parsed YAML plus the line of every key, and duplicate-key problems found on the way."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.lines: dict[PathParts, int] = {}
        self.problems: list[Problem] = []
        self._nodes = 0
        self._open: set[int] = set()  # the nodes being indexed: seeing one again is a cycle
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                [Problem(self.file, None, "", f"cannot read file: {exc.strerror}")]
            ) from None
        except UnicodeDecodeError:
            raise ConfigError([Problem(self.file, None, "", "file is not UTF-8 text")]) from None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            if mark is not None and mark.line >= len(text.splitlines()):
                mark = getattr(exc, "context_mark", None) or mark  # unclosed bracket at end of file
            line = mark.line + 1 if mark else None
            reason = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                [Problem(self.file, line, "", f"YAML syntax error: {reason}")]
            ) from None
        if root is not None:
            self._index(root, ())

    def _index(self, node: yaml.Node, path: PathParts) -> None:
        if id(node) in self._open:
            raise ConfigError(
                [self.problem(path, "an alias refers to the value it is inside (a loop)")]
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise ConfigError(
                [
                    Problem(
                        self.file,
                        None,
                        "",
                        f"more than {MAX_NODES} keys and items (aliases count each time they are used)",
                    )
                ]
            )
        self._open.add(id(node))
        try:
            self._index_node(node, path)
        finally:
            self._open.discard(id(node))

    def _index_node(self, node: yaml.Node, path: PathParts) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                try:
                    key = _KEYS.construct_object(key_node, deep=True)
                except yaml.YAMLError:
                    key = key_node.value  # e.g. a '<<' merge key: index it by its text
                if key in seen:
                    self.problems.append(
                        Problem(
                            self.file,
                            key_node.start_mark.line + 1,
                            _dotted((*path, key)),
                            "duplicate key (a later value would silently replace the earlier one)",
                        )
                    )
                seen.add(key)
                self._index(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._index(item, (*path, index))

    def line_of(self, path: PathParts) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: PathParts, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), _dotted(path), message)


def _dotted(path: PathParts) -> str:
    return ".".join(str(part) for part in path)


def _data_path(data: Any, loc: tuple[Any, ...], error_type: str) -> PathParts:
    """Pydantic's error location as a key path in the file.

    Pydantic adds parts that are not keys in the file: union tags (a bus's 'tcp', a value's
    'bool'/'int'/'str') and '[key]' for a bad mapping key. The path stops at the last real key,
    except that a `missing` error names the missing key itself.
    """
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            current = current[part]
        elif isinstance(current, dict) and part in current.values():
            continue  # a discriminator value, e.g. 'tcp' for a bus
        else:
            if error_type == "missing" and index == len(loc) - 1 and part != "[key]":
                path.append(part)
            break
        path.append(part)
    return tuple(path)


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _validate(doc: _YamlDoc, model: type[BaseModel], data: Any, at: PathParts = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        by_path: dict[PathParts, list[str]] = {}
        for error in exc.errors():
            path = (*at, *_data_path(data, error["loc"], error["type"]))
            message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
            if message not in by_path.setdefault(path, []):
                by_path[path].append(message)
        for path, messages in by_path.items():
            doc.problems.append(doc.problem(path, "; or ".join(messages)))
        return None


def load_profile(path: Path) -> DeviceProfile:
    doc = _YamlDoc(path)
    profile = _validate(doc, DeviceProfile, doc.data)
    if profile is not None and profile.profile != path.stem:
        doc.problems.append(
            doc.problem(("profile",), f"names '{profile.profile}' but the file is {path.name}")
        )
    if doc.problems:
        raise ConfigError(doc.problems)
    return profile


def _apply_overrides(
    doc: _YamlDoc, at: PathParts, device: DeviceConfig, profile: DeviceProfile
) -> dict[str, PointSpec]:
    points = dict(profile.points)
    for point_name, override in device.alarms.items():
        here = (*at, "alarms", point_name)
        if point_name not in points:
            known = ", ".join(sorted(points))
            doc.problems.append(
                doc.problem(
                    here, f"profile '{profile.profile}' has no point '{point_name}' ({known})"
                )
            )
            continue
        base = points[point_name]
        if not override.enabled:
            points[point_name] = base.model_copy(update={"alarm": None})
            continue
        merged = base.alarm.model_dump() if base.alarm else {}
        merged.update(override.model_dump(exclude_unset=True, exclude={"enabled"}))
        rule = _validate(doc, AlarmRule, merged, here)
        if rule is None:
            continue
        spec = _validate(doc, PointSpec, {**base.model_dump(), "alarm": rule.model_dump()}, here)
        if spec is not None:
            points[point_name] = spec
    return points


def load_site(path: str | Path) -> Site:
    """Load and validate a site file with its profiles; raises ConfigError listing every problem."""
    site_path = Path(path)
    doc = _YamlDoc(site_path)
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [doc.problem((), "the site file must be a mapping with 'site' and 'nodes'")]
        )
    site_file: SiteFile | None = _validate(doc, SiteFile, doc.data)
    if site_file is None:
        raise ConfigError(doc.problems)

    profiles_dir = site_path.parent / site_file.profiles_dir
    profiles: dict[str, DeviceProfile | None] = {}
    nodes: dict[str, Node] = {}
    for node_id, node in site_file.nodes.items():
        devices: dict[str, Device] = {}
        units_on_bus: dict[tuple[str, int], str] = {}
        for device_id, device in node.devices.items():
            at: PathParts = ("nodes", node_id, "devices", device_id)
            if device.bus not in node.buses:
                known = ", ".join(sorted(node.buses)) or "none"
                doc.problems.append(
                    doc.problem(
                        (*at, "bus"), f"bus '{device.bus}' is not defined (defined: {known})"
                    )
                )
            elif (device.bus, device.unit) in units_on_bus:
                other = units_on_bus[(device.bus, device.unit)]
                doc.problems.append(
                    doc.problem(
                        (*at, "unit"),
                        f"unit {device.unit} on bus '{device.bus}' is already used by '{other}'",
                    )
                )
            else:
                units_on_bus[(device.bus, device.unit)] = device_id
            if device.profile not in profiles:
                profile_path = profiles_dir / f"{device.profile}.yaml"
                if not profile_path.is_file():
                    profiles[device.profile] = None
                else:
                    try:
                        profiles[device.profile] = load_profile(profile_path)
                    except ConfigError as exc:
                        doc.problems.extend(exc.problems)
                        profiles[device.profile] = None
                        continue
            profile = profiles[device.profile]
            if profile is None:
                if not (profiles_dir / f"{device.profile}.yaml").is_file():
                    doc.problems.append(
                        doc.problem(
                            (*at, "profile"),
                            f"profile '{device.profile}' not found "
                            f"(looked for {profiles_dir / (device.profile + '.yaml')})",
                        )
                    )
                continue
            points = _apply_overrides(doc, at, device, profile)
            devices[device_id] = Device(
                device_id,
                node_id,
                device.name,
                device.profile,
                device.bus,
                device.unit,
                device.location,
                points,
            )
        nodes[node_id] = Node(
            node_id,
            node.name,
            node.heartbeat_s,
            node.scan,
            dict(node.buses),
            devices,
            dict(node.readers),
            node.telemetry_s,
        )

    for index, suppression in enumerate(site_file.suppressions):
        _check_suppression(doc, ("suppressions", index), suppression, nodes)
    patrol = check_patrol(doc, site_file.patrol, nodes)
    check_parking(doc, site_file.parking, nodes)
    check_inspection(doc, site_file.inspection, nodes)
    if doc.problems:
        raise ConfigError(doc.problems)
    return Site(
        site_file.site.id,
        site_file.site.name,
        site_file.site.timezone,
        nodes,
        doc.data,
        site_path.resolve(),
        tuple(site_file.suppressions),
        patrol,
        site_file.parking,
        site_file.duty,
        site_file.inspection,
    )


def _check_suppression(
    doc: _YamlDoc, at: PathParts, suppression: Suppression, nodes: dict[str, Node]
) -> None:
    node = nodes.get(suppression.node)
    if node is None:
        doc.problems.append(doc.problem((*at, "node"), f"node '{suppression.node}' is not defined"))
        return
    device = node.devices.get(suppression.device)
    if device is None:
        doc.problems.append(
            doc.problem(
                (*at, "device"),
                f"device '{suppression.device}' is not on node '{suppression.node}'",
            )
        )
        return
    for index, point in enumerate(suppression.points or []):
        if point not in device.points:
            doc.problems.append(
                doc.problem((*at, "points", index), f"device '{device.id}' has no point '{point}'")
            )
