export * from './routes';
export * from './messages';
export * from './verify';
