// Bundles the web wallet's libraries with the pinned esbuild into ES modules under xacthuc/web/static/wallet/lib/
// (committed, like the contract artefacts; a test rebuilds them and compares byte for byte):
//   sd-jwt.js   @sd-jwt/core's SDJwtInstance (decode, present with a KB-JWT)
//   pako.js     raw deflate/inflate with a preset dictionary (the XI2 transport) and zlib inflate (status lists)
//   qrcode.js   qrcode's matrix builder and its SVG renderer (the offline presentation QR)
// Usage: node xacthuc/web/wallet_build.mjs            write the files (npm run build:wallet)
//        node xacthuc/web/wallet_build.mjs --out DIR  write them into DIR instead
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(dirname(here));
const args = process.argv.slice(2);
const out = args[0] === "--out" ? args[1] : join(here, "static", "wallet", "lib");

// Each bundle's entry, as source text: only what the wallet calls, so tree shaking keeps the files small.
const entries = {
  "sd-jwt.js": 'export { SDJwtInstance } from "@sd-jwt/core";\n',
  "pako.js": 'export { deflateRaw, inflateRaw, inflate } from "pako";\n',
  "qrcode.js": [
    'import QRCode from "qrcode/lib/core/qrcode.js";',
    'import SvgTag from "qrcode/lib/renderer/svg-tag.js";',
    "/** The SVG markup of `text` as a QR code (qrcode's options: errorCorrectionLevel, margin, ...). */",
    "export function toSvg(text, options) { return SvgTag.render(QRCode.create(text, options), options); }",
    "",
  ].join("\n"),
};

mkdirSync(out, { recursive: true });
for (const [name, contents] of Object.entries(entries)) {
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: `wallet-lib-${name}`, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    write: false,
    logLevel: "warning",
  });
  const text = `// Built by xacthuc/web/wallet_build.mjs (npm run build:wallet) from node_modules: do not edit.\n${result.outputFiles[0].text}`;
  writeFileSync(join(out, name), text);
  console.log(`${name}: ${Buffer.byteLength(text)} bytes`);
}
