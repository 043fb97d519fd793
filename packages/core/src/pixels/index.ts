// Pixel kernels for plugin authors: fast, allocation-aware building blocks (box filters, guided
// filter, colour conversions, ...). Built-in styles use only what is exported here.
export {};
