// Express 5 with express.static (serve-static inside); misses reach Express's own 404.
// Usage: node express.mjs <root> <port>
import express from 'express';

const [root = '.', port = '0'] = process.argv.slice(2);
express().use(express.static(root)).listen(Number(port), '127.0.0.1');
