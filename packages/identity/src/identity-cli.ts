/**
 * Identity from the shell, for deployment scripts (against DATABASE_URL, or the embedded
 * default's PGlite directory in HUIYING_PGLITE_DIR):
 *
 *   pnpm user:add --role admin --username zhangsan [--display-name 张三] [--unit housing] [--email …]
 *       the password is read from standard input (one line), so it never sits in argv or history
 *   pnpm --silent token:add --name hotline-12345 --scope tickets:write
 *       prints the new token as its last line; it is shown once and stored hashed
 *
 * Production never starts with a default password: the first administrator comes from here.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig, Type } from '@huiying/config';
import type { DbHandle, Role } from '@huiying/db';
import { cliDbConfig, openCliDb } from '@huiying/db/cli-db';
import { ROLES, TOKEN_SCOPES } from './principal.ts';
import { createToken } from './tokens.ts';
import { createUser, IdentityError } from './users.ts';

const [command, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
const fail = (message: string): never => {
  console.error(`${command ?? 'identity'}: ${message}`);
  process.exit(2);
};

async function open(): Promise<DbHandle> {
  return openCliDb(loadConfig(Type.Object(cliDbConfig)), fail);
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return fail('no password on standard input');
}

const actor = `cli:${process.env.USER ?? 'unknown'}`;

if (command === 'user:add') {
  const { values } = parseArgs({
    args: rest,
    options: {
      role: { type: 'string' },
      username: { type: 'string' },
      'display-name': { type: 'string' },
      unit: { type: 'string' },
      email: { type: 'string' },
    },
  });
  const role = values.role as Role | undefined;
  if (!role || !ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
  if (!values.username) fail('--username is required');
  const password = await readPassword();
  const handle = await open();
  try {
    const user = await createUser(
      handle.db,
      {
        username: values.username!,
        role: role!,
        password,
        ...(values['display-name'] ? { displayName: values['display-name'] } : {}),
        ...(values.unit ? { unitId: values.unit } : {}),
        ...(values.email ? { email: values.email } : {}),
      },
      actor,
      new Date(),
    );
    console.log(`user ${user.username} (${user.role}) created: ${user.id}`);
  } catch (error) {
    if (error instanceof IdentityError) fail(error.message);
    throw error;
  } finally {
    await handle.close();
  }
} else if (command === 'token:add') {
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, scope: { type: 'string', multiple: true } } });
  if (!values.name) fail('--name is required');
  if (!values.scope?.length) fail(`--scope is required (one or more of ${TOKEN_SCOPES.join(', ')})`);
  const handle = await open();
  try {
    const token = await createToken(handle.db, { name: values.name!, scopes: values.scope! }, actor, new Date());
    console.error(`token ${token.name} (${token.scopes.join(', ')}) created: ${token.id} — shown once, store it now`);
    console.log(token.token);
  } catch (error) {
    if (error instanceof IdentityError) fail(error.message);
    throw error;
  } finally {
    await handle.close();
  }
} else {
  fail('usage: user:add --role ROLE --username NAME | token:add --name NAME --scope SCOPE');
}
