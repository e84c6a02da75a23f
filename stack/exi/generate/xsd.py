"""Minimal XML Schema 1.0 reader: just the components EXI grammar derivation needs.

Why our own reader: the generator must run with the standard library only and the V2G schemas use a small,
well-defined subset of XSD (sequences, choices, substitution groups, complexContent extension, simpleContent,
restrictions with facets, a few wildcards in xmldsig). Anything outside that subset raises `XsdError` instead
of being silently approximated.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
UNBOUNDED = None

QName = tuple[str, str]  # (namespace uri, local name)


class XsdError(Exception):
    """The schema set uses something this reader does not support, or is inconsistent."""


# ---------------------------------------------------------------------------------------------------------
# Built-in simple types: name -> (base name, integer bounds or None)
# ---------------------------------------------------------------------------------------------------------
_BUILTIN_BASE: dict[str, str | None] = {
    "anySimpleType": None,
    "string": "anySimpleType",
    "normalizedString": "string",
    "token": "normalizedString",
    "language": "token",
    "Name": "token",
    "NCName": "Name",
    "ID": "NCName",
    "IDREF": "NCName",
    "ENTITY": "NCName",
    "NMTOKEN": "token",
    "anyURI": "anySimpleType",
    "QName": "anySimpleType",
    "NOTATION": "anySimpleType",
    "boolean": "anySimpleType",
    "base64Binary": "anySimpleType",
    "hexBinary": "anySimpleType",
    "float": "anySimpleType",
    "double": "anySimpleType",
    "duration": "anySimpleType",
    "dateTime": "anySimpleType",
    "time": "anySimpleType",
    "date": "anySimpleType",
    "gYearMonth": "anySimpleType",
    "gYear": "anySimpleType",
    "gMonthDay": "anySimpleType",
    "gDay": "anySimpleType",
    "gMonth": "anySimpleType",
    "decimal": "anySimpleType",
    "integer": "decimal",
    "nonPositiveInteger": "integer",
    "negativeInteger": "nonPositiveInteger",
    "long": "integer",
    "int": "long",
    "short": "int",
    "byte": "short",
    "nonNegativeInteger": "integer",
    "unsignedLong": "nonNegativeInteger",
    "unsignedInt": "unsignedLong",
    "unsignedShort": "unsignedInt",
    "unsignedByte": "unsignedShort",
    "positiveInteger": "nonNegativeInteger",
}

_BUILTIN_RANGE: dict[str, tuple[int | None, int | None]] = {
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "nonNegativeInteger": (0, None),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
    "positiveInteger": (1, None),
}

_FACETS = (
    "enumeration",
    "minInclusive",
    "maxInclusive",
    "minExclusive",
    "maxExclusive",
    "length",
    "minLength",
    "maxLength",
    "pattern",
    "totalDigits",
    "fractionDigits",
    "whiteSpace",
)


@dataclass(eq=False)
class SimpleType:
    """A simple type after resolution: a built-in or a restriction/list/union of another simple type."""

    name: QName | None
    base: SimpleType | None
    variety: str = "atomic"  # atomic | list | union
    facets: dict[str, list[str]] = field(default_factory=dict)
    item: SimpleType | None = None  # list item type
    builtin: str | None = None  # set for the XSD built-ins themselves

    def primitive_chain(self) -> list[str]:
        """Names of the built-in ancestors, most derived first (e.g. unsignedByte, unsignedShort, ...)."""
        out = []
        t: SimpleType | None = self
        while t is not None:
            if t.builtin:
                out.append(t.builtin)
            t = t.base
        return out

    def facet(self, name: str) -> list[str] | None:
        """The most derived value of a facet (facets are inherited along the restriction chain)."""
        t: SimpleType | None = self
        while t is not None:
            if name in t.facets:
                return t.facets[name]
            t = t.base
        return None

    def facet_all(self, name: str) -> list[list[str]]:
        out = []
        t: SimpleType | None = self
        while t is not None:
            if name in t.facets:
                out.append(t.facets[name])
            t = t.base
        return out


@dataclass(eq=False)
class AttributeUse:
    qname: QName
    type: SimpleType
    required: bool


@dataclass(eq=False)
class Wildcard:
    """xs:any. `constraint` is ('any',), ('not', ns) or ('list', (ns, ...))."""

    constraint: tuple


@dataclass(eq=False)
class ModelGroup:
    kind: str  # sequence | choice | all
    particles: list[Particle]


@dataclass(eq=False)
class Particle:
    min: int
    max: int | None
    term: ElementDecl | Wildcard | ModelGroup


@dataclass(eq=False)
class ComplexType:
    name: QName | None
    abstract: bool = False
    mixed: bool = False
    attributes: list[AttributeUse] = field(default_factory=list)
    has_attribute_wildcard: bool = False
    content: str = "empty"  # empty | simple | element
    particle: Particle | None = None
    simple: SimpleType | None = None
    base: ComplexType | SimpleType | None = None
    resolved: bool = False


@dataclass(eq=False)
class ElementDecl:
    qname: QName
    is_global: bool
    abstract: bool = False
    nillable: bool = False
    subst_head: QName | None = None
    _type: ComplexType | SimpleType | None = None
    _resolve: object = None

    @property
    def type(self) -> ComplexType | SimpleType:
        if self._type is None:
            self._type = self._resolve()  # type: ignore[operator]
        return self._type


@dataclass
class _Doc:
    path: str
    root: ET.Element
    tns: str
    qualified_elements: bool
    qualified_attributes: bool
    prefixes: dict[str, str]


def _local(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def _is_xs(el: ET.Element, name: str) -> bool:
    return el.tag == f"{{{XS}}}{name}"


def _parse_with_prefixes(path: str) -> tuple[ET.Element, dict[str, str]]:
    prefixes: dict[str, str] = {}
    root = None
    for event, item in ET.iterparse(path, events=("start-ns", "start")):
        if event == "start-ns":
            prefix, uri = item  # type: ignore[misc]
            if prefix in prefixes and prefixes[prefix] != uri:
                raise XsdError(f"{path}: prefix {prefix!r} bound to two namespaces")
            prefixes[prefix] = uri
        elif root is None:
            root = item
    assert root is not None
    # iterparse returns the root element fully built once parsing finished
    return root, prefixes


class SchemaSet:
    """All schema documents reachable from one root XSD through xs:import / xs:include."""

    def __init__(self, root_path: str, namespace_locations: dict[str, str] | None = None) -> None:
        self.namespace_locations = dict(namespace_locations or {})
        self.docs: list[_Doc] = []
        self._loaded: set[str] = set()
        self._el_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._ct_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._st_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._group_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._attr_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._agroup_defs: dict[QName, tuple[_Doc, ET.Element]] = {}
        self._elements: dict[QName, ElementDecl] = {}
        self._types: dict[QName, ComplexType | SimpleType] = {}
        self._anon: dict[int, ComplexType | SimpleType] = {}
        self._load(os.path.abspath(root_path))
        for name, base in _BUILTIN_BASE.items():
            self._types[(XS, name)] = SimpleType(
                (XS, name), None if base is None else self._types[(XS, base)], builtin=name
            )  # parents come first in the dict order above
        self._types[(XS, "anyType")] = ComplexType((XS, "anyType"), content="element", resolved=True)

    # -- loading -----------------------------------------------------------------------------------------
    def _load(self, path: str) -> None:
        if path in self._loaded:
            return
        if not os.path.exists(path):
            raise XsdError(f"schema file not found: {path}")
        self._loaded.add(path)
        root, prefixes = _parse_with_prefixes(path)
        if not _is_xs(root, "schema"):
            raise XsdError(f"{path}: root element is not xs:schema")
        doc = _Doc(
            path=path,
            root=root,
            tns=root.get("targetNamespace", ""),
            qualified_elements=root.get("elementFormDefault") == "qualified",
            qualified_attributes=root.get("attributeFormDefault") == "qualified",
            prefixes=prefixes,
        )
        self.docs.append(doc)
        table = {
            "element": self._el_defs,
            "complexType": self._ct_defs,
            "simpleType": self._st_defs,
            "group": self._group_defs,
            "attribute": self._attr_defs,
            "attributeGroup": self._agroup_defs,
        }
        for child in root:
            if not isinstance(child.tag, str):
                continue
            kind = _local(child.tag)
            if kind in ("import", "include"):
                ns = child.get("namespace", doc.tns)
                loc = child.get("schemaLocation")
                target = os.path.normpath(os.path.join(os.path.dirname(path), loc)) if loc else None
                if (target is None or not os.path.exists(target)) and ns in self.namespace_locations:
                    # e.g. xmldsig imported as "xmldsig-core-schema.xsd" from a sub-folder: map by namespace
                    target = os.path.abspath(self.namespace_locations[ns])
                if target is None:
                    raise XsdError(f"{path}: cannot locate import of namespace {ns!r}")
                self._load(target)
            elif kind in table:
                qn = (doc.tns, child.get("name", ""))
                if qn in table[kind]:
                    raise XsdError(f"duplicate global {kind} {qn}")
                table[kind][qn] = (doc, child)
            elif kind in ("annotation", "notation"):
                continue
            elif kind == "redefine":
                raise XsdError(f"{path}: xs:redefine is not supported")

    # -- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _qref(doc: _Doc, value: str) -> QName:
        if ":" in value:
            prefix, local = value.split(":", 1)
            if prefix not in doc.prefixes:
                raise XsdError(f"{doc.path}: unknown prefix {prefix!r} in {value!r}")
            return (doc.prefixes[prefix], local)
        return (doc.prefixes.get("", ""), value)

    # -- public accessors ----------------------------------------------------------------------------------
    def global_elements(self) -> list[ElementDecl]:
        return [self.element(qn) for qn in self._el_defs]

    def element(self, qn: QName) -> ElementDecl:
        if qn not in self._elements:
            if qn not in self._el_defs:
                raise XsdError(f"unknown global element {qn}")
            doc, el = self._el_defs[qn]
            self._elements[qn] = self._element_decl(doc, el, qn, is_global=True)
        return self._elements[qn]

    def type(self, qn: QName) -> ComplexType | SimpleType:
        if qn in self._types:
            return self._types[qn]
        if qn in self._ct_defs:
            doc, el = self._ct_defs[qn]
            ct = ComplexType(qn)
            self._types[qn] = ct  # register before resolving: types may be referenced recursively
            self._fill_complex(doc, el, ct)
            return ct
        if qn in self._st_defs:
            doc, el = self._st_defs[qn]
            st = self._simple(doc, el, qn)
            self._types[qn] = st
            return st
        raise XsdError(f"unknown type {qn}")

    def named_types(self) -> list[ComplexType | SimpleType]:
        return [self.type(qn) for qn in list(self._ct_defs) + list(self._st_defs)]

    def substitution_members(self, head: ElementDecl) -> list[ElementDecl]:
        """All global elements that may substitute `head` (transitively), not including head itself."""
        out: list[ElementDecl] = []
        frontier = [head.qname]
        seen = {head.qname}
        while frontier:
            h = frontier.pop()
            for e in self.global_elements():
                if e.subst_head == h and e.qname not in seen:
                    seen.add(e.qname)
                    out.append(e)
                    frontier.append(e.qname)
        return out

    # -- component construction ----------------------------------------------------------------------------
    def _element_decl(self, doc: _Doc, el: ET.Element, qn: QName, is_global: bool) -> ElementDecl:
        decl = ElementDecl(
            qname=qn,
            is_global=is_global,
            abstract=el.get("abstract") == "true",
            nillable=el.get("nillable") == "true",
            subst_head=self._qref(doc, el.get("substitutionGroup")) if el.get("substitutionGroup") else None,
        )
        type_attr = el.get("type")
        inline = [c for c in el if isinstance(c.tag, str) and _local(c.tag) in ("complexType", "simpleType")]
        if type_attr and inline:
            raise XsdError(f"{doc.path}: element {qn} has both @type and an inline type")

        def resolve() -> ComplexType | SimpleType:
            if type_attr:
                return self.type(self._qref(doc, type_attr))
            if inline:
                return self._anonymous(doc, inline[0])
            if decl.subst_head is not None:  # type defaults to the head's type
                return self.element(decl.subst_head).type
            return self._types[(XS, "anyType")]

        decl._resolve = resolve
        return decl

    def _anonymous(self, doc: _Doc, el: ET.Element) -> ComplexType | SimpleType:
        key = id(el)
        if key not in self._anon:
            if _is_xs(el, "complexType"):
                ct = ComplexType(None)
                self._anon[key] = ct
                self._fill_complex(doc, el, ct)
            else:
                self._anon[key] = self._simple(doc, el, None)
        return self._anon[key]

    def _simple(self, doc: _Doc, el: ET.Element, qn: QName | None) -> SimpleType:
        kids = [c for c in el if isinstance(c.tag, str) and not _is_xs(c, "annotation")]
        if len(kids) != 1:
            raise XsdError(f"{doc.path}: simpleType {qn} must have exactly one derivation")
        d = kids[0]
        kind = _local(d.tag)
        if kind == "restriction":
            base = self._simple_base(doc, d)
            st = SimpleType(qn, base, variety=base.variety, item=base.item)
            for f in d:
                if not isinstance(f.tag, str) or _is_xs(f, "annotation") or _is_xs(f, "simpleType"):
                    continue
                name = _local(f.tag)
                if name not in _FACETS:
                    raise XsdError(f"{doc.path}: unsupported facet {name} in {qn}")
                st.facets.setdefault(name, []).append(f.get("value", ""))
            return st
        if kind == "list":
            if d.get("itemType"):
                item = self.type(self._qref(doc, d.get("itemType", "")))
            else:
                inner = [c for c in d if isinstance(c.tag, str) and _is_xs(c, "simpleType")]
                item = self._anonymous(doc, inner[0])
            if not isinstance(item, SimpleType):
                raise XsdError(f"{doc.path}: list item of {qn} is not a simple type")
            return SimpleType(qn, self._types[(XS, "anySimpleType")], variety="list", item=item)
        if kind == "union":
            return SimpleType(qn, self._types[(XS, "anySimpleType")], variety="union")
        raise XsdError(f"{doc.path}: unsupported simpleType derivation {kind}")

    def _simple_base(self, doc: _Doc, d: ET.Element) -> SimpleType:
        if d.get("base"):
            base = self.type(self._qref(doc, d.get("base", "")))
        else:
            inner = [c for c in d if isinstance(c.tag, str) and _is_xs(c, "simpleType")]
            if not inner:
                raise XsdError(f"{doc.path}: restriction without base")
            base = self._anonymous(doc, inner[0])
        if isinstance(base, ComplexType):
            if base.simple is None:
                raise XsdError(f"{doc.path}: simple restriction of complex type {base.name}")
            return base.simple
        return base

    def _fill_complex(self, doc: _Doc, el: ET.Element, ct: ComplexType) -> None:
        ct.abstract = el.get("abstract") == "true"
        ct.mixed = el.get("mixed") == "true"
        kids = [c for c in el if isinstance(c.tag, str) and not _is_xs(c, "annotation")]
        attrs: list[AttributeUse] = []
        if kids and _local(kids[0].tag) in ("complexContent", "simpleContent"):
            cc = kids[0]
            if cc.get("mixed") == "true":
                ct.mixed = True
            der = [c for c in cc if isinstance(c.tag, str) and not _is_xs(c, "annotation")][0]
            dkind = _local(der.tag)
            base = self.type(self._qref(doc, der.get("base", "")))
            ct.base = base
            body = [c for c in der if isinstance(c.tag, str) and not _is_xs(c, "annotation")]
            if _is_xs(cc, "complexContent"):
                if not isinstance(base, ComplexType):
                    raise XsdError(f"{doc.path}: complexContent derived from simple type in {ct.name}")
                own = self._content_particle(doc, body)
                if dkind == "extension":
                    attrs = list(base.attributes)
                    ct.has_attribute_wildcard = base.has_attribute_wildcard
                    if base.content == "simple":
                        raise XsdError(f"{doc.path}: complexContent extension of simple content {ct.name}")
                    parts = [p for p in (base.particle, own) if p is not None]
                    if len(parts) == 2:
                        ct.particle = Particle(1, 1, ModelGroup("sequence", parts))
                    elif parts:
                        ct.particle = parts[0]
                    ct.mixed = ct.mixed or base.mixed
                elif dkind == "restriction":
                    attrs = list(base.attributes)
                    ct.particle = own
                else:
                    raise XsdError(f"{doc.path}: unsupported derivation {dkind}")
                ct.content = "element" if ct.particle is not None else "empty"
            else:  # simpleContent
                if isinstance(base, ComplexType):
                    if base.content != "simple" or base.simple is None:
                        raise XsdError(f"{doc.path}: simpleContent based on non-simple {base.name}")
                    attrs = list(base.attributes)
                    simple = base.simple
                else:
                    simple = base
                if dkind == "restriction":
                    st = SimpleType(None, simple, variety=simple.variety, item=simple.item)
                    for f in body:
                        if _local(f.tag) in _FACETS:
                            st.facets.setdefault(_local(f.tag), []).append(f.get("value", ""))
                    simple = st
                elif dkind != "extension":
                    raise XsdError(f"{doc.path}: unsupported derivation {dkind}")
                ct.content = "simple"
                ct.simple = simple
            attrs = self._merge_attributes(attrs, self._attributes(doc, body, ct))
        else:
            ct.particle = self._content_particle(doc, kids)
            ct.content = "element" if ct.particle is not None else "empty"
            attrs = self._attributes(doc, kids, ct)
        ct.attributes = attrs
        ct.resolved = True

    @staticmethod
    def _merge_attributes(base: list[AttributeUse], own: list[AttributeUse]) -> list[AttributeUse]:
        out = {a.qname: a for a in base}
        for a in own:
            out[a.qname] = a
        return list(out.values())

    def _attributes(self, doc: _Doc, kids: list[ET.Element], ct: ComplexType) -> list[AttributeUse]:
        out: list[AttributeUse] = []
        for k in kids:
            if _is_xs(k, "attribute"):
                if k.get("use") == "prohibited":
                    continue
                if k.get("ref"):
                    qn = self._qref(doc, k.get("ref", ""))
                    adoc, ael = self._attr_defs[qn]
                    t = self._attr_type(adoc, ael)
                else:
                    qualified = k.get("form", "qualified" if doc.qualified_attributes else "unqualified")
                    qn = (doc.tns if qualified == "qualified" else "", k.get("name", ""))
                    t = self._attr_type(doc, k)
                out.append(AttributeUse(qn, t, k.get("use") == "required"))
            elif _is_xs(k, "anyAttribute"):
                ct.has_attribute_wildcard = True
            elif _is_xs(k, "attributeGroup"):
                raise XsdError(f"{doc.path}: attributeGroup is not supported")
        return out

    def _attr_type(self, doc: _Doc, el: ET.Element) -> SimpleType:
        if el.get("type"):
            t = self.type(self._qref(doc, el.get("type", "")))
        else:
            inner = [c for c in el if isinstance(c.tag, str) and _is_xs(c, "simpleType")]
            t = self._anonymous(doc, inner[0]) if inner else self._types[(XS, "anySimpleType")]
        if not isinstance(t, SimpleType):
            raise XsdError(f"{doc.path}: attribute type is not simple")
        return t

    def _content_particle(self, doc: _Doc, kids: list[ET.Element]) -> Particle | None:
        groups = [k for k in kids if _local(k.tag) in ("sequence", "choice", "all", "group")]
        if not groups:
            return None
        if len(groups) > 1:
            raise XsdError(f"{doc.path}: more than one content model group")
        p = self._particle(doc, groups[0])
        # an empty sequence means empty content
        if isinstance(p.term, ModelGroup) and not p.term.particles and p.term.kind != "choice":
            return None
        return p

    @staticmethod
    def _occurs(el: ET.Element) -> tuple[int, int | None]:
        mn = int(el.get("minOccurs", "1"))
        mx_s = el.get("maxOccurs", "1")
        mx = None if mx_s == "unbounded" else int(mx_s)
        return mn, mx

    def _particle(self, doc: _Doc, el: ET.Element) -> Particle:
        mn, mx = self._occurs(el)
        kind = _local(el.tag)
        if kind in ("sequence", "choice", "all"):
            parts = [
                self._particle(doc, c)
                for c in el
                if isinstance(c.tag, str) and _local(c.tag) in ("element", "sequence", "choice", "any", "group")
            ]
            return Particle(mn, mx, ModelGroup(kind, parts))
        if kind == "group":
            qn = self._qref(doc, el.get("ref", ""))
            gdoc, gel = self._group_defs[qn]
            inner = [c for c in gel if isinstance(c.tag, str) and _local(c.tag) in ("sequence", "choice", "all")]
            p = self._particle(gdoc, inner[0])
            return Particle(mn, mx, p.term) if (p.min, p.max) == (1, 1) else Particle(
                mn, mx, ModelGroup("sequence", [p])
            )
        if kind == "element":
            if el.get("ref"):
                return Particle(mn, mx, self.element(self._qref(doc, el.get("ref", ""))))
            qualified = el.get("form", "qualified" if doc.qualified_elements else "unqualified")
            qn = (doc.tns if qualified == "qualified" else "", el.get("name", ""))
            return Particle(mn, mx, self._element_decl(doc, el, qn, is_global=False))
        if kind == "any":
            ns = el.get("namespace", "##any").split()
            if ns == ["##any"]:
                c: tuple = ("any",)
            elif ns == ["##other"]:
                c = ("not", doc.tns)
            else:
                c = ("list", tuple(doc.tns if n == "##targetNamespace" else "" if n == "##local" else n for n in ns))
            return Particle(mn, mx, Wildcard(c))
        raise XsdError(f"{doc.path}: unsupported particle {kind}")
