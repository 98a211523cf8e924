// Lint rules: typescript-eslint's recommended set; formatting is prettier's job.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'fixtures/',
      'bench/work/',
      'bench/results/',
      '.tmp/',
      'bench/corpora/',
      'native/build/',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // CommonJS (bin/package.json), for a faster start: see bin/load-cli.js.
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
