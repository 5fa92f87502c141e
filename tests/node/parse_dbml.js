// Parses the DBML file given as argument with @dbml/core, as dbdiagram.io
// does, and prints what it found as JSON (exit 1 with the parser's message
// when the DBML is invalid).
const fs = require("fs");
const { Parser } = require("@dbml/core");

const source = fs.readFileSync(process.argv[2], "utf8");
let database;
try {
  database = new Parser().parse(source, "dbml");
} catch (error) {
  const diags = error.diags || [error];
  console.error(diags.map((d) => `${d.location ? d.location.start.line : "?"}: ${d.message}`).join("\n"));
  process.exit(1);
}
const summary = { schemas: [], refs: [], enums: [] };
for (const schema of database.schemas) {
  summary.schemas.push({
    name: schema.name,
    tables: schema.tables.map((table) => ({
      name: table.name,
      note: table.note,
      fields: table.fields.map((f) => ({ name: f.name, type: f.type.type_name, pk: f.pk, not_null: f.not_null })),
      indexes: table.indexes.map((index) => ({
        name: index.name,
        unique: !!index.unique,
        pk: !!index.pk,
        columns: index.columns.map((c) => c.value),
      })),
    })),
  });
  for (const enumType of schema.enums) {
    summary.enums.push({ schema: schema.name, name: enumType.name, values: enumType.values.map((v) => v.name) });
  }
  for (const ref of schema.refs) {
    summary.refs.push({
      name: ref.name,
      endpoints: ref.endpoints.map((e) => ({ schema: e.schemaName, table: e.tableName, fields: e.fieldNames, relation: e.relation })),
      onDelete: ref.onDelete || null,
    });
  }
}
process.stdout.write(JSON.stringify(summary));
