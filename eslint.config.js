// @ts-check
import pluginVue from 'eslint-plugin-vue';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/migrations/**', 'test-artifacts/**', '.cache/**', '**/dist/**', '**/*.gen.ts'] },
  ...tseslint.configs.recommended,
  // The console's single-file components: Vue's recommended rules, TypeScript in <script setup>.
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
    rules: {
      // Prettier owns layout; these stylistic rules fight it.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/attributes-order': 'off',
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The pure core: no I/O, no wall clock, no other workspace packages (architecture.md).
    files: ['packages/domain/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@huiying/*'], message: 'packages/domain imports no other workspace package.' },
            { group: ['node:*', 'fs', 'net', 'http', 'https', 'child_process'], message: 'packages/domain does no I/O.' },
            {
              group: ['pg', 'kafkajs', 'nodemailer', 'fastify', 'drizzle-orm', 'drizzle-orm/*', 'rss-parser', 'pino'],
              message: 'packages/domain does no I/O.',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'The core takes `now` as input.' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'The core takes `now` as input.' },
        { selector: 'CallExpression[callee.name=/^set(Timeout|Interval|Immediate)$/]', message: 'The core owns no timers.' },
      ],
    },
  },
  {
    // Config is read once, at boot, through @huiying/config — not from process.env all over.
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts'],
    ignores: ['**/main.ts', '**/*-cli.ts', 'packages/config/src/**', 'packages/testkit/src/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration at boot (main.ts) and inject it.' },
      ],
    },
  },
);
