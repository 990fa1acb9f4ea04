#!/usr/bin/env node
// Parse Terraform files with HashiCorp's HCL parser (npm @cdktf/hcl2json, Go compiled to WASM).
//
// usage: node hcl_parse.js [--dump FILE|-] [--quiet] PATH...
//   PATH: a .tf/.tfvars file, or a directory searched recursively for *.tf and *.tfvars (sorted).
//   --dump: also write {"files": {path: <hcl2json JSON>}, "references": {"<expression>": ["var.x", ...]}} where
//           "references" maps every string of the parsed files that holds an interpolation to the traversals in it,
//           as HCL itself finds them (for-expression and dynamic iterator locals of the expression excluded).
// exit: 0 all files parsed, 1 a file failed to parse, 2 usage error or no file found.
// The module is found through NODE_PATH, or $NODE_DIR/node_modules (run.sh exports both).
"use strict";
const fs = require("fs");
const path = require("path");

function load(name) {
  try {
    return require(name);
  } catch (e) {
    if (process.env.NODE_DIR) return require(path.join(process.env.NODE_DIR, "node_modules", name));
    throw e;
  }
}

function collect(p, out) {
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(p).sort()) {
      if (e.startsWith(".")) continue; // .terraform/, editor files
      collect(path.join(p, e), out);
    }
  } else if (/\.(tf|tfvars)$/.test(p)) {
    out.push(p);
  }
}

function strings(v, out) {
  if (typeof v === "string") {
    if (v.includes("${") || v.includes("%{")) out.add(v);
  } else if (Array.isArray(v)) {
    for (const x of v) strings(x, out);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      strings(k, out);
      strings(x, out);
    }
  }
}

async function main() {
  const args = process.argv.slice(2);
  let dump = null;
  let quiet = false;
  const paths = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--dump") dump = args[++i];
    else if (args[i] === "--quiet") quiet = true;
    else if (args[i].startsWith("-") && args[i] !== "-") {
      console.error(`hcl_parse: unknown option ${args[i]}`);
      return 2;
    } else paths.push(args[i]);
  }
  if (!paths.length || dump === undefined) {
    console.error("usage: node hcl_parse.js [--dump FILE|-] [--quiet] PATH...");
    return 2;
  }
  const files = [];
  for (const p of paths) {
    if (!fs.existsSync(p)) {
      console.error(`hcl_parse: ${p}: no such file or directory`);
      return 2;
    }
    collect(p, files);
  }
  if (!files.length) {
    console.error(`hcl_parse: no .tf or .tfvars file under ${paths.join(" ")}`);
    return 2;
  }
  const hcl = load("@cdktf/hcl2json");
  const parsed = {};
  let failed = 0;
  for (const f of files) {
    try {
      parsed[f] = await hcl.parse(path.basename(f), fs.readFileSync(f, "utf8"));
      if (!quiet && dump !== "-") console.log(`ok ${f}`);
    } catch (e) {
      failed++;
      // the message is "parse config: [main.tf:3,7-4,1: Invalid expression; ...]": name the real path
      const msg = String(e && e.message ? e.message : e).replace(/^Error: /, "");
      console.error(`error ${f}: ${msg}`);
    }
  }
  if (dump !== null && !failed) {
    const exprs = new Set();
    strings(parsed, exprs);
    const references = {};
    for (const x of [...exprs].sort()) {
      try {
        references[x] = (await hcl.getReferencesInExpression("expr.tf", x)).map((r) => r.value);
      } catch (e) {
        references[x] = null; // not an expression HCL can parse on its own (a plain string with "${" escaped)
      }
    }
    const text = JSON.stringify({ files: parsed, references }, null, 1) + "\n";
    if (dump === "-") process.stdout.write(text);
    else fs.writeFileSync(dump, text);
  }
  if (!quiet && dump !== "-") console.log(`${files.length - failed}/${files.length} files parsed`);
  return failed ? 1 : 0;
}

main().then(
  // exitCode, not exit(): exit() drops what a pipe has not read yet (a --dump - over 64 KiB)
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`hcl_parse: ${e && e.stack ? e.stack : e}`);
    process.exit(2);
  },
);
