"""Dataset contracts: the column rules the spec declares, from ``contracts.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CONTRACTS_FILE = Path(__file__).with_name("contracts.json")

NUMERIC_TYPES = ("int", "float")
CATEGORICAL_TYPES = ("string", "bool")


class ContractError(LookupError):
    """A dataset or contract that can't be found."""


@dataclass(frozen=True)
class Column:
    """The rules of one column."""

    name: str
    type: str
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] = ()
    unique: bool = False
    max_missing_ratio: float | None = None

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Column:
        return cls(
            name=name,
            type=data["type"],
            nullable=data.get("nullable", True),
            min=data.get("min"),
            max=data.get("max"),
            allowed=tuple(data.get("allowed") or ()),
            unique=data.get("unique", False),
            max_missing_ratio=data.get("max_missing_ratio"),
        )


@dataclass(frozen=True)
class Contract:
    """A dataset: where it lives in each environment, its sample and its columns."""

    name: str
    columns: tuple[Column, ...]
    format: str | None = None
    sample: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Contract:
        columns = data.get("columns", {})
        return cls(
            name=name,
            columns=tuple(Column.from_dict(c, columns[c]) for c in sorted(columns)),
            format=data.get("format"),
            sample=data.get("sample"),
            sources=dict(data.get("sources", {})),
        )


def load(path: Path = CONTRACTS_FILE) -> dict[str, Contract]:
    """Reads every contract, keyed by dataset name."""
    data = json.loads(path.read_text(encoding="utf-8"))
    datasets = data.get("datasets", {})
    return {name: Contract.from_dict(name, datasets[name]) for name in sorted(datasets)}


def find(
    contracts: dict[str, Contract], name: str | None = None, uri: str | None = None
) -> Contract:
    """The contract named ``name``, else the one whose source is ``uri``."""
    if name is not None:
        if name in contracts:
            return contracts[name]
        raise ContractError(f"no dataset named {name!r}; known: {_known(contracts)}")
    for contract in contracts.values():
        if uri in contract.sources.values():
            return contract
    known = _known(contracts)
    raise ContractError(f"no dataset has the source {uri!r}; use --name with: {known}")


def _known(contracts: dict[str, Contract]) -> str:
    return ", ".join(contracts) or "(none)"
