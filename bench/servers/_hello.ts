/** The 2 KiB (2048 ASCII characters) body of the hello scenario. */
export const HELLO = "Hello, world! ".repeat(147).slice(0, 2047) + "\n";
