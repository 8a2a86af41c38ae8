// Worker-thread entry of a sandboxed Lambda function: TypeScript support first, then the runtime.
// Plain JavaScript on purpose, so the worker starts the same way under tsx, vitest or plain node.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
