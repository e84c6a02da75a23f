"""Runs INSIDE Josev's virtualenv (iso15118 + Java): XML <-> EXI through the EXIficient library Josev ships.

Josev's own codec object only speaks its JSON form, which cannot say xsi:type, xsi:nil or wildcard content;
the same jar holds EXIficient itself and Josev's precompiled V2G grammars, so this drives EXIficient's SAX API
directly with the V2G options (schema-informed, bit-packed, non-strict, valuePartitionCapacity 0, no built-in
grammars or productions): an independent oracle for the parts of EXI our fast path does not cover.

Input (stdin): {"requests": [{"op": "xml2exi", "schema": "iso2", "xml": "<...>"},
                             {"op": "exi2xml", "schema": "iso2", "hex": "80..."}, ...]}
Output (stdout): {"results": [{"ok": true, "hex": ...} | {"ok": true, "xml": ...} | {"ok": false, "error": ...}]}
"""

import contextlib
import json
import logging
import sys

GRAMMARS = {
    "apphand": "CommonAppProtocol",
    "din": "DINSpec_70121",
    "iso2": "ISO15118_2Grammar",
    "iso20": "ISO15118_20_V2G_CI_CommonMessages",
    "iso20_ac": "ISO15118_20_V2G_CI_AC",
    "iso20_dc": "ISO15118_20_V2G_CI_DC",
    "iso20_wpt": "ISO15118_20_V2G_CI_WPT",
    "iso20_acdp": "ISO15118_20_V2G_CI_ACDP",
}


def main() -> int:
    logging.disable(logging.CRITICAL)
    from iso15118.shared.settings import JAR_FILE_PATH
    from py4j.java_gateway import JavaGateway

    gw = JavaGateway.launch_gateway(
        classpath=JAR_FILE_PATH, die_on_exit=True, javaopts=["--add-opens", "java.base/java.lang=ALL-UNNAMED"]
    )
    jvm = gw.jvm
    factories = {}

    def factory(schema):  # type: ignore[no-untyped-def]
        if schema not in factories:
            f = jvm.com.siemens.ct.exi.core.helpers.DefaultEXIFactory.newInstance()
            f.setGrammars(getattr(jvm.com.siemens.ct.exi.main.generatedgrammar, GRAMMARS[schema])())
            f.setValuePartitionCapacity(0)
            f.setMaximumNumberOfBuiltInElementGrammars(0)
            f.setMaximumNumberOfBuiltInProductions(0)
            factories[schema] = f
        return factories[schema]

    out = []
    for r in json.load(sys.stdin)["requests"]:
        try:
            f = factory(r["schema"])
            if r["op"] == "xml2exi":
                res = jvm.com.siemens.ct.exi.main.api.sax.EXIResult(f)
                bos = jvm.java.io.ByteArrayOutputStream()
                res.setOutputStream(bos)
                xr = jvm.org.xml.sax.helpers.XMLReaderFactory.createXMLReader()
                xr.setFeature("http://xml.org/sax/features/namespaces", True)
                xr.setContentHandler(res.getHandler())
                xr.parse(jvm.org.xml.sax.InputSource(jvm.java.io.StringReader(r["xml"])))
                out.append({"ok": True, "hex": bytes(bos.toByteArray()).hex()})
            elif r["op"] == "exi2xml":
                src = jvm.com.siemens.ct.exi.main.api.sax.EXISource(f)
                sax = jvm.javax.xml.transform.sax.SAXSource(
                    src.getXMLReader(),
                    jvm.org.xml.sax.InputSource(jvm.java.io.ByteArrayInputStream(bytes.fromhex(r["hex"]))),
                )
                sw = jvm.java.io.StringWriter()
                jvm.javax.xml.transform.TransformerFactory.newInstance().newTransformer().transform(
                    sax, jvm.javax.xml.transform.stream.StreamResult(sw)
                )
                out.append({"ok": True, "xml": sw.toString()})
            else:
                out.append({"ok": False, "error": f"unknown op {r['op']!r}"})
        except Exception as exc:  # report per request, keep going
            out.append({"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:500]}"})
    json.dump({"results": out}, sys.stdout)
    sys.stdout.flush()
    with contextlib.suppress(Exception):
        gw.shutdown()  # do not leave a JVM behind
    return 0


if __name__ == "__main__":
    sys.exit(main())
