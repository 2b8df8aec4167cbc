import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { freePort, run, scratch, start, Started, stop, waitFor } from './processes';
import { tools } from './tools';

// A throwaway Postgres from Debian's packages on loopback. Postgres refuses to run as root, so as root the
// server runs as the `postgres` user (Debian's package creates it) through runuser.

const asRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

export class PostgresServer {
  /** The PEM of the CA that signed the server's certificate (with `tls: { caSignedFor }`). */
  public caCertificate?: string;

  private constructor(public readonly host: string, public readonly port: number, public readonly dir: string, private readonly proc: Started) {}

  /**
   * Starts a server with a superuser `postgres` reachable with `password` over TCP (scram), optionally with TLS
   * only (hostssl) from a self-signed certificate, or from one a throwaway CA signed for a host name (as a managed
   * database's provider does; the CA's PEM is then `caCertificate`).
   */
  public static async start(o: { password: string; tls?: boolean | { caSignedFor: string }; host?: string; port?: number }): Promise<PostgresServer> {
    const bin = tools().postgres;
    const dir = scratch('pg');
    const data = join(dir, 'data');
    if (asRoot) run('chown', ['-R', 'postgres:postgres', dir]);
    writeFileSync(join(dir, 'pw'), o.password);
    if (asRoot) chownSync(join(dir, 'pw'), uidOf('postgres'), uidOf('postgres'));
    run(...asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--pwfile', join(dir, 'pw'), '-E', 'UTF8', '--no-sync']));
    const port = o.port ?? await freePort();
    const host = o.host ?? '127.0.0.1';
    const conf = [`listen_addresses = '${host}'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, 'fsync = off', `password_encryption = 'scram-sha-256'`];
    let caPem: string | undefined;
    if (o.tls && typeof o.tls === 'object') {
      const ca = join(dir, 'ca');
      mkdirSync(ca, { recursive: true });
      run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cd4ml tier CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', join(ca, 'ca.key'), '-out', join(ca, 'ca.crt')]);
      run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${o.tls.caSignedFor}`, '-keyout', join(data, 'server.key'), '-out', join(ca, 'server.csr')]);
      writeFileSync(join(ca, 'ext'), `subjectAltName=DNS:${o.tls.caSignedFor}\nextendedKeyUsage=serverAuth\n`);
      run('openssl', ['x509', '-req', '-in', join(ca, 'server.csr'), '-CA', join(ca, 'ca.crt'), '-CAkey', join(ca, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(ca, 'ext'), '-out', join(data, 'server.crt')]);
      caPem = readFileSync(join(ca, 'ca.crt'), 'utf8');
    } else if (o.tls) {
      run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', `subjectAltName=DNS:localhost,IP:${host}`, '-keyout', join(data, 'server.key'), '-out', join(data, 'server.crt')]);
    }
    if (o.tls) {
      if (asRoot) run('chown', ['postgres:postgres', join(data, 'server.key'), join(data, 'server.crt')]);
      run('chmod', ['600', join(data, 'server.key')]);
      conf.push('ssl = on');
      // TLS only: no plain host line at all.
      writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\n');
      if (asRoot) run('chown', ['postgres:postgres', join(data, 'pg_hba.conf')]);
    }
    writeFileSync(join(data, 'postgresql.auto.conf'), conf.join('\n') + '\n');
    if (asRoot) run('chown', ['postgres:postgres', join(data, 'postgresql.auto.conf')]);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const [cmd, args] = asPostgres(join(bin, 'postgres'), ['-D', data]);
    const proc = start('postgres', cmd, args, { logDir: join(dir, 'logs') });
    const server = new PostgresServer(host, port, dir, proc);
    server.caCertificate = caPem;
    await waitFor('postgres accepting connections', () => (run(join(bin, 'pg_isready'), ['-q', '-h', host, '-p', String(port)], { allowFail: true }).status === 0 ? true : undefined), 60000, { proc });
    return server;
  }

  /** Runs SQL as the superuser over the local socket (trust); returns psql's unaligned output. */
  public sql(sql: string, database = 'postgres'): string {
    return run(...asPostgres(join(tools().postgres, 'psql'), ['-h', this.dir, '-p', String(this.port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-tA', '-c', sql])).stdout.trim();
  }

  public log(): string {
    return this.proc.tail();
  }

  public async stop(): Promise<void> {
    await stop(this.proc, 10000);
  }
}

function uidOf(user: string): number {
  return Number(run('id', ['-u', user]).stdout.trim());
}
