// Independent oracle for labgw's tests: validates FHIR R4 JSON files with FHIR.js (npm `fhir`).
// Usage: node validate.js FILE...  Prints one JSON line per file: {file, valid, errors: [...]}.
// FHIR.js checks R4 core structure (elements, cardinality, types) and required bindings to the
// R4 core value sets it ships; it knows no profiles, so it is compared with labgw on base R4 only.
"use strict";
const fs = require("fs");
const { Fhir } = require("fhir");

const fhir = new Fhir();
for (const file of process.argv.slice(2)) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    console.log(JSON.stringify({ file, valid: false, errors: [{ message: String(err) }] }));
    continue;
  }
  const result = fhir.validate(resource, { errorOnUnexpected: true });
  const errors = result.messages.filter((m) => m.severity === "error" || m.severity === "fatal");
  console.log(JSON.stringify({ file, valid: errors.length === 0, errors }));
}
