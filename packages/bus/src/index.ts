export * from './bus.ts';
export * from './messages.ts';
export { EmbeddedBus } from './embedded.ts';
export { KafkaBus, type KafkaBusOptions } from './kafka.ts';
