/**
 * The OpenAPI document, built on its first request. @fastify/swagger (with yaml, json-schema-resolver and rfdc)
 * is loaded only then (docs/memory.md): at start, an onRoute hook only lists the routes registered after it, and
 * onRegister the child contexts, which is all the plugin's own hooks keep. On the first GET /v1/openapi.json the
 * plugin is imported and run against a host that has only what it uses (addHook, decorate, getSchemas), its hooks
 * are given the listed routes and contexts and then told the server is ready, and the document it builds is kept.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { SwaggerOptions } from '@fastify/swagger';

type Build = () => unknown;

/** What @fastify/swagger's dynamic mode calls on the instance it is registered on. */
interface SwaggerHost {
  addHook(name: string, fn: (arg: never) => unknown): void;
  decorate(name: string, fn: Build): void;
  getSchemas(): Record<string, unknown>;
}

/**
 * Lists the routes registered on `app` from now on, and returns the document's builder: the first call imports
 * @fastify/swagger and builds the document from them, later calls return the same document. Call it once the
 * server is ready (a request handler).
 */
export function lazyOpenapi(app: FastifyInstance, options: SwaggerOptions): () => Promise<unknown> {
  const routes: RouteOptions[] = [];
  const instances: FastifyInstance[] = [];
  app.addHook('onRoute', (route) => { routes.push(route); });
  app.addHook('onRegister', (instance) => { instances.push(instance); });
  let built: Promise<Build> | undefined;
  const build = async (): Promise<Build> => {
    const { fastifySwagger } = await import('@fastify/swagger');
    const hooks = new Map<string, (arg: never) => unknown>();
    let swagger: Build | undefined;
    const host: SwaggerHost = {
      addHook: (name, fn) => { hooks.set(name, fn); },
      decorate: (_name, fn) => { swagger = fn; },
      getSchemas: () => app.getSchemas(),
    };
    // The plugin types its instance as a whole FastifyInstance; it calls only what SwaggerHost lists.
    fastifySwagger(host as unknown as FastifyInstance, options, (err) => { if (err) throw err; });
    const onRoute = hooks.get('onRoute') as ((route: RouteOptions) => void) | undefined;
    const onRegister = hooks.get('onRegister') as ((instance: FastifyInstance) => Promise<void>) | undefined;
    const onReady = hooks.get('onReady') as ((done: (err?: Error) => void) => void) | undefined;
    if (!onRoute || !onRegister || !onReady || !swagger) throw new Error('@fastify/swagger did not add its hooks');
    for (const route of routes) onRoute(route);
    for (const instance of instances) await onRegister(instance);
    onReady((err) => { if (err) throw err; });
    return swagger;
  };
  return async () => {
    // A failed build is tried again on the next request.
    built ??= build().catch((err: unknown) => { built = undefined; throw err; });
    return (await built)();
  };
}
