"""The fake GitHub's GraphQL side: a subset of GitHub's schema, its cost rules, and an executor.

Queries are parsed and validated against the schema with graphql-core (so a field GitHub doesn't
have fails here as it would there), priced with GitHub's documented rules, and executed by a small
evaluator over the fixture (graphql-core's own executor is too slow for the benchmark's volume).
Errors follow GraphQL's rules: a failing non-null field nulls its nearest nullable parent and adds
an entry to `errors` with its `path` and GitHub's `type`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_named_type,
    parse,
    validate,
)
from graphql.language import (
    BooleanValueNode,
    EnumValueNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

SCHEMA_SDL: Final = """
scalar DateTime
scalar GitTimestamp
scalar GitObjectID
scalar URI

interface Node { id: ID! }
enum SearchType { REPOSITORY ISSUE USER DISCUSSION }
enum IssueState { OPEN CLOSED }
enum PullRequestState { OPEN CLOSED MERGED }
enum RepositoryPrivacy { PUBLIC PRIVATE }
enum RepositoryAffiliation { OWNER COLLABORATOR ORGANIZATION_MEMBER }

type Query {
  rateLimit(dryRun: Boolean = false): RateLimit
  search(query: String!, type: SearchType!, first: Int, last: Int, after: String,
         before: String): SearchResultItemConnection!
  nodes(ids: [ID!]!): [Node]!
  node(id: ID!): Node
  repository(owner: String!, name: String!): Repository
}
type RateLimit {
  cost: Int! limit: Int! nodeCount: Int! remaining: Int! resetAt: DateTime! used: Int!
}
type PageInfo {
  hasNextPage: Boolean! hasPreviousPage: Boolean! endCursor: String startCursor: String
}
union SearchResultItem = Repository | User | Organization
type SearchResultItemEdge { cursor: String! node: SearchResultItem }
type SearchResultItemConnection {
  repositoryCount: Int! userCount: Int! issueCount: Int!
  pageInfo: PageInfo! nodes: [SearchResultItem] edges: [SearchResultItemEdge]
}
interface RepositoryOwner {
  id: ID! login: String!
  repositories(first: Int, last: Int, after: String, privacy: RepositoryPrivacy,
               ownerAffiliations: [RepositoryAffiliation], isFork: Boolean): RepositoryConnection!
}
type User implements Node & RepositoryOwner {
  id: ID! login: String!
  repositories(first: Int, last: Int, after: String, privacy: RepositoryPrivacy,
               ownerAffiliations: [RepositoryAffiliation], isFork: Boolean): RepositoryConnection!
  followers(first: Int, last: Int, after: String): FollowerConnection!
}
type Organization implements Node & RepositoryOwner {
  id: ID! login: String!
  repositories(first: Int, last: Int, after: String, privacy: RepositoryPrivacy,
               ownerAffiliations: [RepositoryAffiliation], isFork: Boolean): RepositoryConnection!
}
type RepositoryConnection { totalCount: Int! nodes: [Repository] pageInfo: PageInfo! }
type FollowerConnection { totalCount: Int! }
type UserConnection { totalCount: Int! }
type IssueConnection { totalCount: Int! }
type PullRequestConnection { totalCount: Int! }
type RefConnection { totalCount: Int! }
type ReleaseConnection { totalCount: Int! }
type LabelConnection { totalCount: Int! }
type RepositoryTopicConnection { totalCount: Int! }
type DeploymentConnection { totalCount: Int! }
type CommitHistoryConnection { totalCount: Int! }
type Language { name: String! color: String }
type License { spdxId: String name: String! key: String! }
interface GitObject { id: ID! oid: GitObjectID! }
type Commit implements Node & GitObject {
  id: ID! oid: GitObjectID!
  history(first: Int, last: Int, after: String, since: GitTimestamp,
          until: GitTimestamp): CommitHistoryConnection!
}
type Blob implements Node & GitObject { id: ID! oid: GitObjectID! byteSize: Int! isBinary: Boolean }
type Tree implements Node & GitObject { id: ID! oid: GitObjectID! }
type Ref implements Node { id: ID! name: String! prefix: String! target: GitObject }
type Repository implements Node {
  id: ID! name: String! nameWithOwner: String! owner: RepositoryOwner!
  stargazerCount: Int! forkCount: Int! createdAt: DateTime! pushedAt: DateTime diskUsage: Int
  hasWikiEnabled: Boolean! hasIssuesEnabled: Boolean! isFork: Boolean! isArchived: Boolean!
  isPrivate: Boolean! isEmpty: Boolean! homepageUrl: URI
  primaryLanguage: Language licenseInfo: License
  watchers(first: Int, last: Int, after: String): UserConnection!
  stargazers(first: Int, last: Int, after: String): UserConnection!
  issues(first: Int, last: Int, after: String, states: [IssueState!]): IssueConnection!
  pullRequests(first: Int, last: Int, after: String,
               states: [PullRequestState!]): PullRequestConnection!
  refs(first: Int, last: Int, after: String, refPrefix: String!): RefConnection
  releases(first: Int, last: Int, after: String): ReleaseConnection!
  labels(first: Int, last: Int, after: String): LabelConnection
  mentionableUsers(first: Int, last: Int, after: String): UserConnection!
  repositoryTopics(first: Int, last: Int, after: String): RepositoryTopicConnection!
  deployments(first: Int, last: Int, after: String, environments: [String!]): DeploymentConnection!
  defaultBranchRef: Ref
  object(expression: String, oid: GitObjectID): GitObject
}
"""
MAX_FIRST: Final = 100
NODE_LIMIT: Final = 500_000


class FieldError(Exception):
    """A field failed; GitHub reports it in `errors` with a `type`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class Failure:
    """A value a resolver returns in a list where one item failed (e.g. NOT_FOUND in `nodes`)."""

    error_type: str
    message: str


class QueryTimeoutError(Exception):
    """The whole query timed out: GitHub answers 502 and no data."""


class QueryRejectedError(Exception):
    """The query is invalid (syntax, schema, limits): `errors` only, nothing charged."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "invalid query")
        self.errors = errors


class _NullError(Exception):
    """A non-null field resolved to null: its parent becomes null (GraphQL's null propagation)."""


@dataclass(frozen=True)
class Compiled:
    operation: OperationDefinitionNode
    fragments: Mapping[str, FragmentDefinitionNode]


SCHEMA: Final[GraphQLSchema] = build_schema(SCHEMA_SDL)


@lru_cache(maxsize=256)
def compile_query(text: str, operation_name: str | None = None) -> Compiled:
    try:
        document = parse(text)
    except GraphQLError as error:
        raise QueryRejectedError([_error_json(error)]) from error
    problems = validate(SCHEMA, document)
    if problems:
        raise QueryRejectedError([_error_json(p) for p in problems])
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        raise QueryRejectedError([{"message": "exactly one operation must be selected"}])
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Compiled(operations[0], fragments)


def _error_json(error: GraphQLError) -> dict[str, Any]:
    locations = [{"line": loc.line, "column": loc.column} for loc in error.locations or []]
    return {"message": error.message, "locations": locations}


def argument_values(node: FieldNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {arg.name.value: _value(arg.value, variables) for arg in node.arguments or ()}


def _value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, ListValueNode):
        return [_value(v, variables) for v in node.values]
    raise QueryRejectedError([{"message": f"unsupported argument value {node.kind}"}])


@dataclass
class Cost:
    requests: int = 0
    nodes: int = 0

    @property
    def points(self) -> int:
        """Requests / 100, rounded to the nearest whole number, at least 1."""
        return max(1, math.floor(self.requests / 100 + 0.5))


def query_cost(compiled: Compiled, variables: Mapping[str, Any]) -> Cost:
    """GitHub's documented cost: one request per parent for each connection, from `first`/`last`."""
    cost = Cost()
    _walk_cost(compiled, compiled.operation.selection_set, "Query", 1, variables, cost)
    if cost.nodes > NODE_LIMIT:
        raise QueryRejectedError(
            [{"message": f"This query requests up to {cost.nodes} nodes (limit {NODE_LIMIT})"}]
        )
    return cost


def _walk_cost(
    compiled: Compiled,
    selection_set: SelectionSetNode | None,
    type_name: str,
    parents: int,
    variables: Mapping[str, Any],
    cost: Cost,
) -> None:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            _walk_cost(
                compiled, selection.selection_set, condition or type_name, parents, variables, cost
            )
            continue
        if isinstance(selection, FragmentSpreadNode):
            fragment = compiled.fragments[selection.name.value]
            condition = fragment.type_condition.name.value
            _walk_cost(compiled, fragment.selection_set, condition, parents, variables, cost)
            continue
        assert isinstance(selection, FieldNode)
        name = selection.name.value
        if name.startswith("__"):
            continue
        field_type = _field_type(type_name, name)
        named = get_named_type(field_type).name
        args = argument_values(selection, variables)
        children = parents
        if named.endswith("Connection"):
            cost.requests += parents
            limit = args.get("first") or args.get("last")
            if limit is not None and not 1 <= limit <= MAX_FIRST:
                raise QueryRejectedError(
                    [
                        {
                            "message": f"Requesting {limit} records on the `{name}` connection "
                            f"exceeds the `first` limit of {MAX_FIRST} records."
                        }
                    ]
                )
            selects_items = any(
                isinstance(s, FieldNode) and s.name.value in {"nodes", "edges"}
                for s in (selection.selection_set.selections if selection.selection_set else ())
            )
            if selects_items and limit is None:
                raise QueryRejectedError(
                    [
                        {
                            "message": f"You must provide a `first` or `last` value to properly "
                            f"paginate the `{name}` connection.",
                            "type": "MISSING_PAGINATION_BOUNDARIES",
                        }
                    ]
                )
            children = parents * (limit or 1)
            cost.nodes += children
        elif name == "nodes" and type_name == "Query":
            children = parents * len(args.get("ids") or ())
            cost.nodes += children
        _walk_cost(compiled, selection.selection_set, named, children, variables, cost)


@lru_cache(maxsize=1024)
def _field_type(type_name: str, field_name: str) -> GraphQLOutputType:
    parent = SCHEMA.get_type(type_name)
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        raise KeyError(f"{type_name} has no fields")
    field_type: GraphQLOutputType = parent.fields[field_name].type
    return field_type


Resolver = Callable[[Any, dict[str, Any]], Any]


@dataclass
class Executor:
    """Evaluates one operation over Python objects; `resolvers[(type, field)]` computes a field.

    Fields without a resolver read a dict key or attribute of the same name. `typename_of`
    names the concrete type of a value returned for an interface or union.
    """

    resolvers: Mapping[tuple[str, str], Resolver]
    typename_of: Callable[[Any], str]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def run(self, compiled: Compiled, variables: Mapping[str, Any], root: Any) -> Any:
        self._compiled = compiled
        self._variables = variables
        try:
            return self._select(compiled.operation.selection_set, "Query", root, [])
        except _NullError:
            return None

    def _select(
        self, selection_set: SelectionSetNode, type_name: str, obj: Any, path: list[str | int]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for node in self._collect(selection_set, type_name):
            key = node.alias.value if node.alias else node.name.value
            name = node.name.value
            if name == "__typename":
                result[key] = type_name
                continue
            field_type = _field_type(type_name, name)
            field_path = [*path, key]
            try:
                resolver = self.resolvers.get((type_name, name))
                if resolver is not None:
                    raw = resolver(obj, argument_values(node, self._variables))
                elif isinstance(obj, dict):
                    raw = obj.get(name)
                else:
                    raw = getattr(obj, name)
                result[key] = self._complete(field_type, raw, node, field_path)
            except FieldError as error:
                self._error(error.error_type, str(error), node, field_path)
                if isinstance(field_type, GraphQLNonNull):
                    raise _NullError from error
                result[key] = None
            except _NullError:
                if isinstance(field_type, GraphQLNonNull):
                    raise
                result[key] = None
        return result

    def _complete(
        self, field_type: GraphQLOutputType, raw: Any, node: FieldNode, path: list[str | int]
    ) -> Any:
        if isinstance(field_type, GraphQLNonNull):
            if raw is None:
                raise _NullError
            return self._complete(field_type.of_type, raw, node, path)
        if raw is None:
            return None
        if isinstance(raw, Failure):
            self._error(raw.error_type, raw.message, node, path)
            raise _NullError
        if isinstance(field_type, GraphQLList):
            items = []
            for index, item in enumerate(raw):
                try:
                    items.append(self._complete(field_type.of_type, item, node, [*path, index]))
                except _NullError:
                    if isinstance(field_type.of_type, GraphQLNonNull):
                        raise
                    items.append(None)
            return items
        if isinstance(field_type, GraphQLScalarType | GraphQLEnumType):
            if isinstance(raw, datetime):
                return raw.astimezone(UTC).isoformat().replace("+00:00", "Z")
            return raw
        concrete = field_type.name
        if not isinstance(field_type, GraphQLObjectType):
            concrete = self.typename_of(raw)
        assert node.selection_set is not None
        return self._select(node.selection_set, concrete, raw, path)

    def _error(self, error_type: str, message: str, node: FieldNode, path: list[str | int]) -> None:
        line = node.loc.start_token.line if node.loc else 1
        self.errors.append(
            {
                "type": error_type,
                "path": path,
                "locations": [{"line": line, "column": 1}],
                "message": message,
            }
        )

    def _collect(self, selection_set: SelectionSetNode, type_name: str) -> list[FieldNode]:
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or _applies(condition.name.value, type_name):
                    fields.extend(self._collect(selection.selection_set, type_name))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._compiled.fragments[selection.name.value]
                if _applies(fragment.type_condition.name.value, type_name):
                    fields.extend(self._collect(fragment.selection_set, type_name))
        return fields


@lru_cache(maxsize=256)
def _applies(condition: str, type_name: str) -> bool:
    if condition == type_name:
        return True
    abstract = SCHEMA.get_type(condition)
    concrete = SCHEMA.get_type(type_name)
    if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType) and isinstance(
        concrete, GraphQLObjectType
    ):
        return SCHEMA.is_sub_type(abstract, concrete)
    return False
