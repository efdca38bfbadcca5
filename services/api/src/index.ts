export { buildApp, type AppDeps } from './app.ts';
export { ERROR_CATALOGUE, ApiError } from '@huiying/http';
