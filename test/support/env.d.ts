declare module 'vitest' {
  export interface ProvidedContext {
    db: 'sqlite' | 'mysql';
  }
}
export {};
