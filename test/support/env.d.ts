declare module 'vitest' {
  export interface ProvidedContext {
    db: 'sqlite' | 'mysql';
    seed: number;
  }
}
export {};
