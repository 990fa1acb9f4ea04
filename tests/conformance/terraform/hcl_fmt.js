#!/usr/bin/env node
// `terraform fmt` parity: @cdktf/hcl-tools' format() is hclwrite.Format, the formatter behind `terraform fmt`.
// A file is fmt-clean when format(text) === text.
//
// usage: node hcl_fmt.js PATH...   (files, or directories searched recursively for *.tf and *.tfvars)
// Prints "ok FILE" or "not fmt-clean FILE", and a unified-style diff (actual -> formatted) of the first mismatch.
// exit: 0 all clean, 1 a file is not clean or cannot be formatted, 2 usage error or no file found.
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
      if (!e.startsWith(".")) collect(path.join(p, e), out);
    }
  } else if (/\.(tf|tfvars)$/.test(p)) {
    out.push(p);
  }
}

const show = (l) => l.replace(/\t/g, "\\t").replace(/ +$/, (m) => "·".repeat(m.length));

// One hunk around the first difference: common prefix/suffix trimmed, 3 lines of context, at most 40 lines.
function firstHunk(file, a, b) {
  const A = a.split("\n");
  const B = b.split("\n");
  let i = 0;
  while (i < A.length && i < B.length && A[i] === B[i]) i++;
  let ea = A.length - 1;
  let eb = B.length - 1;
  while (ea >= i && eb >= i && A[ea] === B[eb]) {
    ea--;
    eb--;
  }
  // keep the hunk small: stop at the first line that agrees again after the first mismatch
  for (let j = i; j <= Math.min(ea, eb); j++) {
    if (A[j] === B[j] && j > i) {
      ea = eb = j - 1;
      break;
    }
  }
  const start = Math.max(0, i - 3);
  const tail = Math.min(A.length, ea + 4) - (ea + 1);
  const out = [`--- ${file} (as written)`, `+++ ${file} (terraform fmt)`];
  out.push(`@@ -${start + 1},${ea + 1 - start + tail} +${start + 1},${eb + 1 - start + tail} @@`);
  for (let j = start; j < i; j++) out.push(` ${show(A[j])}`);
  for (let j = i; j <= ea; j++) out.push(`-${show(A[j])}`);
  for (let j = i; j <= eb; j++) out.push(`+${show(B[j])}`);
  for (let j = ea + 1; j < Math.min(A.length, ea + 4); j++) out.push(` ${show(A[j])}`);
  if (out.length > 43) return out.slice(0, 43).concat(["  ... (hunk truncated)"]).join("\n");
  return out.join("\n");
}

async function main() {
  const paths = process.argv.slice(2);
  if (!paths.length || paths.some((p) => p.startsWith("-"))) {
    console.error("usage: node hcl_fmt.js PATH...");
    return 2;
  }
  const files = [];
  for (const p of paths) {
    if (!fs.existsSync(p)) {
      console.error(`hcl_fmt: ${p}: no such file or directory`);
      return 2;
    }
    collect(p, files);
  }
  if (!files.length) {
    console.error(`hcl_fmt: no .tf or .tfvars file under ${paths.join(" ")}`);
    return 2;
  }
  const { format } = load("@cdktf/hcl-tools");
  let bad = 0;
  let diffShown = false;
  for (const f of files) {
    const text = fs.readFileSync(f, "utf8");
    let formatted;
    try {
      formatted = await format(text);
    } catch (e) {
      bad++;
      console.log(`error ${f}: cannot format: ${String(e && e.message ? e.message : e)}`);
      continue;
    }
    if (formatted === text) {
      console.log(`ok ${f}`);
      continue;
    }
    bad++;
    console.log(`not fmt-clean ${f}`);
    if (!diffShown) {
      console.log(firstHunk(f, text, formatted));
      diffShown = true;
    }
  }
  console.log(`${files.length - bad}/${files.length} files fmt-clean`);
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`hcl_fmt: ${e && e.stack ? e.stack : e}`);
    process.exit(2);
  },
);
