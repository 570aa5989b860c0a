import type { CodegenConfig } from '@graphql-codegen/cli';

// Types for every operation in src/, generated from the schema checked in at
// the repository root (the same SDL `entitle schema` prints). `npm run check`
// regenerates src/gql/ and type-checks, so a schema change that breaks an
// operation or the code using it fails there.
const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: 'string' },
        skipTypename: true,
      },
    },
  },
};

export default config;
