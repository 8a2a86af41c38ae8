// Imported first by bench/run.ts: the SDK's notice about Node 20 is noise in benchmark output
// (the functions run on Node 24 in Lambda). Function processes get the same variable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
