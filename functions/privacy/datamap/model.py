"""The data map: where personal data lives, how to find a subject in each store, what erasure means.

One validated file drives CDK (least-privilege IAM on exactly these resources), the Lambdas (which
stores to visit and how) and retention (periods per category). Every error names the entry at fault.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# ISO 8601 durations limited to what retention needs: years, months, days.
_DURATION = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<d>\d+)D)?$")
_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class DataMapError(ValueError):
    """The data map is invalid; the message names the entry at fault."""


class StoreKind(str, Enum):
    DYNAMODB = "dynamodb"
    S3 = "s3"
    SES_CONTACT_LIST = "ses_contact_list"
    SES_SUPPRESSION = "ses_suppression"
    S3_DATASET = "s3_dataset"  # shared data-lake files (Parquet, JSON Lines, CSV) holding rows of many people


class MaskStrategy(str, Enum):
    NULL = "null"  # remove the attribute
    FIXED = "fixed"  # replace with a fixed string
    KEYED_HASH = "keyed_hash"  # HMAC with the stack's key: joins stay possible, the value does not
    RANDOM = "random"  # random token: breaks every join


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    """A category of personal data from the privacy policy, with why and how long it is kept."""

    description: str
    purpose: str
    legal_basis: Literal[
        "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
    ]
    retention: str = Field(description="ISO 8601 duration, e.g. P3Y, P18M, P90D")
    recipients: list[str] = Field(default_factory=list)
    legally_retained: bool = Field(
        default=False, description="Kept under a legal obligation (e.g. invoices for tax); erasure anonymises or skips"
    )

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        match = _DURATION.match(value)
        if not match or not any(match.groupdict().values()):
            raise ValueError(f"retention {value!r} is not an ISO 8601 duration like P3Y, P18M or P90D")
        return value

    def retention_days(self) -> int:
        """Retention as whole days (a year is 365 days, a month 30), the unit retention runs compare in."""
        match = _DURATION.match(self.retention)
        assert match  # validated above
        years, months, days = (int(match.group(g) or 0) for g in ("y", "m", "d"))
        return years * 365 + months * 30 + days


class Resolution(_Model):
    """How an identifier is derived from another one by looking it up in a store."""

    store: str
    from_identifier: str = Field(alias="from")
    attribute: str = Field(description="Attribute of the found record that holds this identifier")


Normalisation = Literal["exact", "case_insensitive"]
StoredAs = Literal["as_typed", "normalised"]
# Identifiers compared without regard to case unless the data map says otherwise (mailbox providers do).
_CASE_INSENSITIVE_BY_DEFAULT = frozenset({"email"})


def normalise_identifier(value: str, normalisation: Normalisation) -> str:
    """The one spelling of ``value`` that holds, HMACs and comparisons use (lower case for case_insensitive)."""
    return value.strip().lower() if normalisation == "case_insensitive" else value


def spellings(value: str, normalisation: Normalisation, stored_as: StoredAs = "as_typed") -> list[str]:
    """Every spelling of ``value`` a store may hold, as typed first: exact match is all a key lookup can do."""
    if normalisation == "exact":
        return [value]
    normalised = normalise_identifier(value, normalisation)
    if stored_as == "normalised":
        return [normalised]
    return list(dict.fromkeys([value, normalised]))


def spelling_kind(spelling: str, value: str) -> str:
    """Which spelling matched, for outcomes and evidence (never the value itself)."""
    return "as_typed" if spelling == value else "normalised"


class Identifier(_Model):
    """A way to identify a subject (email, customer id, ...)."""

    description: str = ""
    pattern: str = Field(description="Regular expression every value must match (guards key templates)")
    resolved_by: Resolution | None = None
    normalisation: Normalisation = Field(
        default="exact",
        description=(
            "How values compare: exact, or case_insensitive (the default for an identifier named email); "
            "lookups try every spelling a store may hold, holds and retention compare normalised values"
        ),
    )

    def normalise(self, value: str) -> str:
        return normalise_identifier(value, self.normalisation)

    def spellings(self, value: str, stored_as: StoredAs = "as_typed") -> list[str]:
        return spellings(value, self.normalisation, stored_as)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return value


class Mask(_Model):
    strategy: MaskStrategy
    value: str | None = Field(default=None, description="Replacement for the fixed strategy")

    @model_validator(mode="after")
    def _fixed_needs_value(self) -> Mask:
        if self.strategy is MaskStrategy.FIXED and self.value is None:
            raise ValueError("the fixed strategy needs a value")
        return self


class Erasure(_Model):
    """What erasing a subject means in a store."""

    mode: Literal["delete", "anonymise", "skip"] = "delete"
    attributes: dict[str, Mask] = Field(default_factory=dict, description="anonymise: attribute -> mask")
    reason: str | None = Field(default=None, description="Why records are kept (recorded as the exception)")
    suppress: bool | None = Field(
        default=None,
        description=(
            "ses_suppression stores only: erasure keeps (or adds) the address on the account suppression list so "
            "marketing never resumes (unset means true; false: erasure deletes the entry)"
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Erasure:
        if self.mode == "anonymise" and not self.attributes:
            raise ValueError("anonymise needs at least one attribute to mask")
        if self.mode != "delete" and not self.reason:
            raise ValueError(f"erasure mode {self.mode} needs a reason (it is recorded as the exception)")
        return self


class Lookup(_Model):
    """How to find a subject's records in a store."""

    identifier: str
    key_attribute: str | None = Field(default=None, description="dynamodb: attribute holding the identifier")
    index: str | None = Field(default=None, description="dynamodb: GSI to query instead of the table key")
    key_template: str | None = Field(default=None, description="s3: prefix such as users/{customer_id}/")
    stored_as: StoredAs = Field(
        default="as_typed",
        description=(
            "How the store keeps the identifier: as_typed (lookups try the value as typed and its normalised "
            "form) or normalised (the store lower-cases it, or key_attribute is a normalised attribute)"
        ),
    )


class DynamoKeySchema(_Model):
    """The table's key schema, declared so the map can be checked at synth time without AWS access."""

    partition_key: str
    sort_key: str | None = None
    indexes: dict[str, str] = Field(default_factory=dict, description="GSI name -> its partition key")


DatasetFormatName = Literal["parquet", "jsonl", "csv"]
# A dotted path into nested JSON objects or Parquet structs (user.email); CSV columns are header names.
_COLUMN = r"^[^.\s][^\s]*$"


class Dataset(_Model):
    """Where an s3_dataset store's files are and how a row names its subject."""

    prefix: str = Field(default="", description="Key prefix of the store's files in the bucket, e.g. clicks/")
    format: DatasetFormatName = Field(description="parquet, jsonl or csv; gzip is detected from the bytes and kept")
    columns: dict[str, Annotated[str, Field(pattern=_COLUMN)]] = Field(
        min_length=1,
        description="Subject identifier -> the column holding it (dotted path into nested records; CSV header)",
    )


class Store(_Model):
    kind: StoreKind
    resource: str = Field(description="Table, bucket or contact list name (existing resources, not owned)")
    categories: list[str]
    lookup: Lookup
    erasure: Erasure = Erasure()
    rectifiable: dict[str, Literal["string", "number", "boolean"]] = Field(default_factory=dict)
    restriction_marker: str = "privacy_restricted"
    retention_timestamp: str | None = Field(default=None, description="Attribute with the record's ISO timestamp")
    table: DynamoKeySchema | None = None
    topics: list[str] = Field(default_factory=list, description="ses_contact_list: topics of the list")
    dataset: Dataset | None = Field(default=None, description="s3_dataset: prefix, format and identifier columns")


class Recipient(_Model):
    description: str
    direct_marketing: bool = Field(
        default=False,
        description=(
            "The recipient uses what it receives for its own direct marketing (Cal. Civ. Code 1798.83): "
            "the categories it receives are named in a disclosure_notice"
        ),
    )


class Transfer(_Model):
    """Personal data transferred to a third country (GDPR Art. 30(1)(e)), for the record of processing."""

    country: str = Field(min_length=1, description="The third country, e.g. Canada")
    categories: list[str] = Field(min_length=1, description="Categories of data transferred there")
    recipients: list[str] = Field(default_factory=list, description="Who receives it there (recipient names)")
    safeguards: str = Field(
        min_length=1, description="The Art. 46 / 49 basis, e.g. adequacy decision or standard contractual clauses"
    )


class DataMap(_Model):
    """The whole data map. Validated at synth time (CDK) and at load time (Lambdas)."""

    version: Literal[1] = 1
    subject_identifier: str = Field(description="The identifier a requester proves control of (email)")
    identifiers: dict[Annotated[str, Field(pattern=_NAME)], Identifier]
    categories: dict[Annotated[str, Field(pattern=_NAME)], Category]
    recipients: dict[str, Recipient] = Field(default_factory=dict)
    stores: dict[Annotated[str, Field(pattern=_NAME)], Store]
    transfers: list[Transfer] = Field(default_factory=list, description="Transfers to third countries")
    data_subjects: list[str] = Field(
        default_factory=list,
        description="Categories of data subjects (GDPR Art. 30(1)(c)), for the record of processing",
    )

    @model_validator(mode="before")
    @classmethod
    def _email_case_insensitive(cls, raw: Any) -> Any:
        # An email compares without case unless the map says exact: a default, so existing maps stay valid.
        if not isinstance(raw, Mapping) or not isinstance(raw.get("identifiers"), Mapping):
            return raw
        identifiers = dict(raw["identifiers"])
        for name in _CASE_INSENSITIVE_BY_DEFAULT & set(identifiers):
            entry = identifiers[name]
            if isinstance(entry, Mapping) and "normalisation" not in entry:
                identifiers[name] = {**entry, "normalisation": "case_insensitive"}
        return {**raw, "identifiers": identifiers}

    @model_validator(mode="after")
    def _cross_references(self) -> DataMap:
        problems: list[str] = []
        if self.subject_identifier not in self.identifiers:
            problems.append(f"subject_identifier: unknown identifier {self.subject_identifier!r}")
        for name, category in self.categories.items():
            for recipient in category.recipients:
                if recipient not in self.recipients:
                    problems.append(f"categories.{name}: unknown recipient {recipient!r}")
        for name, ident in self.identifiers.items():
            if ident.resolved_by is not None:
                found = self._resolution_problems(ident.resolved_by)
                problems.extend(f"identifiers.{name}.resolved_by: {p}" for p in found)
        for name, store in self.stores.items():
            problems.extend(f"stores.{name}: {p}" for p in self._store_problems(store))
        problems.extend(_across_stores_problems(self.stores))
        problems.extend(self._transfer_problems())
        if not problems:
            problems.extend(self._resolution_cycles())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _store_problems(self, store: Store) -> list[str]:
        problems = [f"unknown category {c!r}" for c in store.categories if c not in self.categories]
        if not store.categories:
            problems.append("lists no categories")
        lookup = store.lookup
        if lookup.identifier not in self.identifiers:
            problems.append(f"lookup: unknown identifier {lookup.identifier!r}")
        if store.kind is StoreKind.DYNAMODB:
            problems.extend(_dynamodb_problems(store))
        elif store.kind is StoreKind.S3:
            problems.extend(_template_problems(lookup.key_template, lookup.identifier))
        elif store.kind is StoreKind.S3_DATASET:
            problems.extend(self._dataset_problems(store))
        elif store.kind in _SES_KINDS and lookup.identifier != self.subject_identifier:
            problems.append(f"{store.kind.value} stores are looked up by the subject identifier (the email)")
        if store.kind is StoreKind.SES_SUPPRESSION and store.erasure.mode != "delete":
            problems.append("erasure: ses_suppression stores say with erasure.suppress whether the entry is kept")
        if store.erasure.suppress is not None and store.kind is not StoreKind.SES_SUPPRESSION:
            # One place owns suppression: the account suppression list's own store.
            problems.append("erasure.suppress belongs to the ses_suppression store (the account suppression list)")
        problems.extend(_rectifiable_problems(store))
        if store.erasure.mode == "anonymise" and store.kind not in {StoreKind.DYNAMODB, StoreKind.S3_DATASET}:
            problems.append("anonymise is only supported for dynamodb and s3_dataset stores")
        if store.dataset is not None and store.kind is not StoreKind.S3_DATASET:
            problems.append("dataset belongs to s3_dataset stores")
        return problems

    def _dataset_problems(self, store: Store) -> list[str]:
        dataset, lookup = store.dataset, store.lookup
        if dataset is None:
            return ["s3_dataset stores need dataset (prefix, format, columns)"]
        problems = [f"dataset.columns: unknown identifier {n!r}" for n in dataset.columns if n not in self.identifiers]
        if lookup.identifier not in dataset.columns:
            problems.append(f"lookup: identifier {lookup.identifier!r} has no column in dataset.columns")
        for field in ("key_attribute", "index", "key_template"):
            if getattr(lookup, field) is not None:
                problems.append(f"lookup: {field} means nothing for s3_dataset stores (dataset.columns find rows)")
        if store.erasure.mode == "skip":
            problems.append("erasure: s3_dataset stores delete or anonymise rows")
        # Masks and the retention timestamp name columns the same way the identifier columns do.
        paths = [*store.erasure.attributes, *([store.retention_timestamp] if store.retention_timestamp else [])]
        problems.extend(f"{p!r} is not a column path (dotted, no spaces)" for p in paths if not re.match(_COLUMN, p))
        return problems

    def _transfer_problems(self) -> list[str]:
        problems: list[str] = []
        for index, transfer in enumerate(self.transfers):
            problems.extend(
                f"transfers.{index}: unknown category {c!r}" for c in transfer.categories if c not in self.categories
            )
            problems.extend(
                f"transfers.{index}: unknown recipient {r!r}" for r in transfer.recipients if r not in self.recipients
            )
        return problems

    def _resolution_problems(self, res: Resolution) -> list[str]:
        problems = []
        store = self.stores.get(res.store)
        if store is None:
            problems.append(f"unknown store {res.store!r}")
        elif store.kind is not StoreKind.DYNAMODB:
            problems.append(f"store {res.store!r} is not a dynamodb table")
        elif store.lookup.identifier != res.from_identifier:
            # The lookup query runs with the `from` value, so the store must be looked up by that identifier.
            looked_up_by = store.lookup.identifier
            problems.append(f"store {res.store!r} is looked up by {looked_up_by!r}, not {res.from_identifier!r}")
        if res.from_identifier not in self.identifiers:
            problems.append(f"unknown identifier {res.from_identifier!r}")
        return problems

    def _resolution_cycles(self) -> list[str]:
        for name in self.identifiers:
            seen = [name]
            current = self.identifiers[name].resolved_by
            while current is not None:
                if current.from_identifier in seen:
                    return [f"identifiers.{name}: resolution cycle {' -> '.join([*seen, current.from_identifier])}"]
                seen.append(current.from_identifier)
                current = self.identifiers[current.from_identifier].resolved_by
        return []

    # --- helpers used by planning, IAM and retention -------------------------------------------

    def resolution_order(self) -> list[str]:
        """Identifiers in the order they can be resolved, starting from the subject identifier."""
        order = [self.subject_identifier]
        pending = [n for n in self.identifiers if n != self.subject_identifier]
        while pending:
            ready = [n for n in pending if (r := self.identifiers[n].resolved_by) and r.from_identifier in order]
            if not ready:
                break  # the rest cannot be reached from the subject identifier
            order.extend(ready)
            pending = [n for n in pending if n not in ready]
        return order

    def lookup_spellings(self, store_name: str, value: str) -> list[str]:
        """The spellings of ``value`` (the store's lookup identifier) to try in one store, as typed first."""
        lookup = self.stores[store_name].lookup
        return self.identifiers[lookup.identifier].spellings(value, lookup.stored_as)

    def normalise(self, identifier: str, value: str) -> str:
        return self.identifiers[identifier].normalise(value)

    def direct_marketing_categories(self) -> dict[str, list[str]]:
        """Category -> the recipients flagged direct_marketing that receive it (1798.83), in data map order."""
        flagged = {name for name, recipient in self.recipients.items() if recipient.direct_marketing}
        found = {name: [r for r in c.recipients if r in flagged] for name, c in self.categories.items()}
        return {name: recipients for name, recipients in found.items() if recipients}

    def stores_of_kind(self, kind: StoreKind) -> dict[str, Store]:
        return {name: store for name, store in self.stores.items() if store.kind is kind}


def _dynamodb_problems(store: Store) -> list[str]:
    lookup, problems = store.lookup, []
    if not lookup.key_attribute:
        problems.append("lookup: dynamodb stores need key_attribute")
    if store.table is None:
        return [*problems, "dynamodb stores need a table key schema (table: partition_key, sort_key, indexes)"]
    if lookup.index is not None:
        if lookup.index not in store.table.indexes:
            problems.append(f"lookup: index {lookup.index!r} does not exist on table {store.resource!r}")
        elif store.table.indexes[lookup.index] != lookup.key_attribute:
            problems.append(f"lookup: index {lookup.index!r} is keyed on {store.table.indexes[lookup.index]!r}")
    elif lookup.key_attribute and lookup.key_attribute != store.table.partition_key:
        problems.append(
            f"lookup: {lookup.key_attribute!r} is not the partition key of {store.resource!r}; name an index"
        )
    keys = {store.table.partition_key, store.table.sort_key}
    masked_keys = keys & set(store.erasure.attributes)
    if masked_keys:
        problems.append(f"erasure: cannot anonymise key attributes {sorted(k for k in masked_keys if k)}")
    return problems


_SES_KINDS = frozenset({StoreKind.SES_CONTACT_LIST, StoreKind.SES_SUPPRESSION})
# Attributes the connectors write themselves: rectification must not touch them.
_CONNECTOR_ATTRIBUTES = frozenset({"privacy_anonymised_at"})


def _rectifiable_problems(store: Store) -> list[str]:
    if not store.rectifiable:
        return []
    if store.kind is not StoreKind.DYNAMODB:
        return [f"rectifiable: only dynamodb stores have rectifiable attributes, not {store.kind.value}"]
    protected = set(_CONNECTOR_ATTRIBUTES) | {store.restriction_marker}
    if store.table is not None:
        keys = {store.table.partition_key, store.table.sort_key, *store.table.indexes.values()}
        protected |= {k for k in keys if k}
    # Keys and index keys identify the record (and the subject); markers are the engine's own.
    named = sorted(set(store.rectifiable) & protected)
    return [f"rectifiable: {named} are keys or engine markers and cannot be rectified"] if named else []


def _across_stores_problems(stores: Mapping[str, Store]) -> list[str]:
    problems = []
    suppression = sorted(n for n, s in stores.items() if s.kind is StoreKind.SES_SUPPRESSION)
    if len(suppression) > 1:
        problems.append(f"stores: {suppression} all describe the one account suppression list; keep one")
    types: dict[str, dict[str, str]] = {}
    for name, store in stores.items():
        for attribute, kind in store.rectifiable.items():
            types.setdefault(attribute, {})[name] = kind
    for attribute, by_store in sorted(types.items()):
        if len(set(by_store.values())) > 1:
            # One correction value must be valid in every store that accepts the attribute.
            declared = ", ".join(f"{kind} in {name}" for name, kind in sorted(by_store.items()))
            problems.append(f"stores: rectifiable attribute {attribute!r} has conflicting types ({declared})")
    return problems


def _template_problems(template: str | None, identifier: str) -> list[str]:
    if not template:
        return ["lookup: s3 stores need key_template"]
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return [f"lookup: bad key_template {template!r}: {exc}"]
    problems = []
    if fields != {identifier}:
        problems.append(f"lookup: key_template {template!r} must use exactly {{{identifier}}}")
    if not template.endswith("/"):
        # Without the trailing slash users/12 would also match users/123: another person's data.
        problems.append(f"lookup: key_template {template!r} must end with '/'")
    return problems


def parse_datamap(raw: Mapping[str, Any], source: str = "data map") -> DataMap:
    """Validate a parsed data map document; errors name every entry at fault."""
    try:
        return DataMap.model_validate(raw)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            messages.append(f"{where}: {msg}" if where else msg)
        raise DataMapError(f"{source} is invalid: " + "; ".join(messages)) from None


def load_datamap(path: str | Path) -> DataMap:
    """Load a data map from YAML or JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataMapError(f"cannot read data map {path}: {exc.strerror}") from None
    if path.suffix in {".yaml", ".yml"}:
        import yaml  # only needed where YAML is read (CDK, CLI); Lambdas get the JSON form

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataMapError(f"{path} is not valid YAML: {exc}") from None
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataMapError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataMapError(f"{path} must contain a mapping at the top level")
    return parse_datamap(raw, source=str(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use for the data map (committed as docs/datamap.schema.json)."""
    schema = DataMap.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Privacy engine data map"
    return schema


def with_resource_names(datamap: DataMap, account: str, region: str) -> DataMap:
    """Fill ``{account}`` and ``{region}`` in store resource names (bucket names are global)."""
    stores = {
        name: store.model_copy(update={"resource": store.resource.format(account=account, region=region)})
        for name, store in datamap.stores.items()
    }
    return datamap.model_copy(update={"stores": stores})
