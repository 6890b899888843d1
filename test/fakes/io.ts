/** Every fake port call yields once, as real I/O would, so callers cannot depend on synchronous fakes. */
export const io = (): Promise<void> => Promise.resolve();
