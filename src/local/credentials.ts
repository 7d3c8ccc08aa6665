// Local mode's CredentialSource: connection URLs given on the command line or in the
// environment, kept in this process only. Task payloads name them ("source", "target").
import type { CredentialSource } from '#adapters/postgres/connector.ts';
import { UsageError } from '#core/errors.ts';

export class InProcessCredentials implements CredentialSource {
  private readonly urls = new Map<string, string>();

  register(name: string, url: string): this {
    this.urls.set(name, url);
    return this;
  }

  async urlFor(name: string): Promise<string> {
    const url = this.urls.get(name);
    if (!url) throw new UsageError(`No connection URL registered for "${name}".`);
    return url;
  }

  peek(name: string): string | undefined {
    return this.urls.get(name);
  }
}
