"""The page's protocol code (app/lib) against the worked example of docs/PROTOCOL.md §13, in the
real Chromium: the same values the C++ core is checked against (ProtocolDoc.WorkedExample...)."""
import json
import os
import re
import unittest

from browser_support import BrowserTest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "PROTOCOL.md")


def example_values():
    """The example's messages, taken from the document itself, so the page is held to what it says."""
    text = open(DOC, encoding="utf-8").read()
    ex = text[text.index("<!-- worked-example:begin -->"):text.index("<!-- worked-example:end -->")]
    blocks = re.findall(r"```(?:json)?\n(.*?)```", ex, re.S)
    hello = next(b for b in blocks if b.startswith('{"sealed"') and "hSDwCYkw" in b).strip()
    reply = next(b for b in blocks if b.startswith('{"sealed"') and "HJ_Yj0Vg" in b).strip()
    base = next(b for b in blocks if b.startswith('"@method"')).rstrip("\n")
    request = next(b for b in blocks if b.startswith("POST "))
    response = next(b for b in blocks if b.startswith("HTTP/1.1 200"))
    header = lambda msg, name: re.search(rf"^{name}: (.*)$", msg, re.M).group(1)
    return {
        "hello": hello, "reply": reply, "base": base,
        "requestToken": header(request, "MiniHTTPS-Sealed"),
        "signatureInput": header(request, "Signature-Input"),
        "signature": header(request, "Signature"),
        "responseToken": header(response, "MiniHTTPS-Sealed"),
        "chunk": response.rstrip("\n").split("\n")[-1],
    }


class WorkedExample(BrowserTest):
    def test_page_code_recomputes_every_value_of_the_worked_example(self):
        b = self.browser
        b.open(self.server.origin + "/.app/")
        b.find("#app")
        kat = open(os.path.join(os.path.dirname(__file__), "kat.js"), encoding="utf-8").read()
        failures = b.script("const EXAMPLE = args[0];\n" + kat, json.loads(json.dumps(example_values())))
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
