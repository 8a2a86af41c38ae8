// Placeholder until the sandbox lands: says how to synthesize the stack instead.
console.log('The local sandbox is not built yet. To synthesize the stack offline:\n  npx cdk synth');
