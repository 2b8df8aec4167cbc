/** The scheme a network endpoint speaks. */
export enum Scheme {
  /** Plain HTTP. */
  HTTP = 'http',
  /** HTTP over TLS. */
  HTTPS = 'https',
  /** The Postgres wire protocol. */
  POSTGRES = 'postgresql',
}

/**
 * Where a service answers: host, port and scheme. Consumers derive every URL from this one object, so a
 * changed namespace or port reaches every consumer.
 */
export class Endpoint {
  /** The in-cluster DNS name of a Service: `name.namespace.svc.cluster.local`. */
  public static ofService(serviceName: string, namespace: string, port: number, scheme: Scheme, clusterDomain = 'cluster.local'): Endpoint {
    return new Endpoint(`${serviceName}.${namespace}.svc.${clusterDomain}`, port, scheme);
  }

  public constructor(
    /** Host name. */
    public readonly host: string,
    /** TCP port. */
    public readonly port: number,
    /** Scheme. */
    public readonly scheme: Scheme,
  ) {}

  /** `host:port`. */
  public get hostPort(): string {
    return `${this.host}:${this.port}`;
  }

  /** The URL, `scheme://host:port` plus an optional path. */
  public url(path = ''): string {
    return `${this.scheme}://${this.hostPort}${path}`;
  }
}
