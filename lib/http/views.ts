import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';

export type ViewName = 'post-form' | 'error';

/**
 * Templates from views/, read once at start. Mustache escapes every {{value}}
 * for HTML; no template uses the unescaped {{{triple}}} form.
 */
export class Views {
  private readonly templates: Record<ViewName, string>;

  constructor(viewsDir: string = fileURLToPath(new URL('../../../views/', import.meta.url))) {
    const load = (name: ViewName) => readFileSync(`${viewsDir}/${name}.mustache`, 'utf8');
    this.templates = { 'post-form': load('post-form'), error: load('error') };
    for (const [name, template] of Object.entries(this.templates)) {
      if (template.includes('{{{') || template.includes('{{&')) throw new Error(`views/${name}.mustache must not use unescaped output`);
      Mustache.parse(template);
    }
  }

  render(name: ViewName, values: Readonly<Record<string, string | undefined>>): string {
    return Mustache.render(this.templates[name], values);
  }
}
