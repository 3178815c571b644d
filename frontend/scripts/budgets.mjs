// The initial download of each view (index.html, then every file the view needs before it
// can show anything, gzip-compressed as served), checked against its budget: boards are
// cheap PCs and phones are on school wifi. Lazily loaded code (pdf.js, the other views) is
// not counted. Prints a table; exits non-zero when a budget is exceeded.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const KIB = 1024;
const BUDGETS = {
  "src/board/main.tsx": { view: "board (/board)", budget: 60 * KIB },
  "src/controller/main.tsx": { view: "controller (/)", budget: 100 * KIB },
  "src/editor/main.tsx": { view: "editor (/lessons)", budget: null },
};

const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(`${dist}.vite/manifest.json`, "utf8"));
const gzipped = (file) => gzipSync(readFileSync(`${dist}${file}`), { level: 9 }).length;

/** The files of `key` and of everything it imports statically. */
function files(key, into = new Set()) {
  const chunk = manifest[key];
  if (!chunk || into.has(chunk.file)) return into;
  into.add(chunk.file);
  for (const css of chunk.css ?? []) into.add(css);
  for (const imported of chunk.imports ?? []) files(imported, into);
  return into;
}

let over = false;
const rows = [];
for (const [key, { view, budget }] of Object.entries(BUDGETS)) {
  const needed = files(key, files("index.html", new Set(["index.html"])));
  const bytes = [...needed].reduce((sum, file) => sum + gzipped(file), 0);
  const fits = budget === null || bytes <= budget;
  over ||= !fits;
  rows.push({
    view,
    "gzip KiB": (bytes / KIB).toFixed(1),
    "budget KiB": budget === null ? "-" : (budget / KIB).toFixed(0),
    files: needed.size,
    verdict: fits ? "ok" : "OVER",
  });
}
console.table(rows);
if (over) {
  console.error("an initial download is over its budget");
  process.exit(1);
}
