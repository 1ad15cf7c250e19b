import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { DeploymentConfigError } from './errors.js';
import { type DeploymentFile, parseDeploymentConfig } from './schema.js';

/** Reads, parses and validates a deployment file (YAML; JSON is YAML too). */
export function readDeploymentFile(path: string): DeploymentFile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? cause);
    throw new DeploymentConfigError(`Cannot read deployment file ${path}: ${why}.`, [], 'deployment_file_unreadable');
  }
  return parseDeploymentYaml(text, path);
}

/**
 * YAML text → validated file. Syntax errors come back with line and column, all of them at once;
 * duplicate keys are errors (YAML would otherwise keep the last one silently).
 */
export function parseDeploymentYaml(text: string, source = 'deployment file'): DeploymentFile {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.flatMap((e) => {
      const pos = e.linePos?.[0];
      // yaml's message is "<what> at line L, column C:\n\n<excerpt>"; keep the what and the excerpt.
      const [what = e.message, ...excerpt] = e.message.split('\n');
      const head = pos ? `line ${pos.line}, column ${pos.col}: ${what.replace(/ at line \d+, column \d+:?$/, '')}` : what;
      return [head, ...excerpt.filter((l) => l.trim() !== '').map((l) => `    ${l}`)];
    });
    throw new DeploymentConfigError(`${source} is not valid YAML; nothing was changed.`, problems, 'deployment_file_syntax');
  }
  return parseDeploymentConfig(doc.toJS({ maxAliasCount: 100 }), source);
}
