import { expect } from 'chai';
import { configHelp } from '../../src/config/load';
import { configSchema, listSettings } from '../../src/config/schema';

describe('config', () => {
  describe('schema', () => {
    const settings = listSettings(configSchema());

    it('names every environment variable MINIFTP_<PATH IN UPPER SNAKE CASE>', () => {
      for (const { path: key, setting } of settings) {
        const snake = key
          .replace('KiB', 'Kib') // one word: MINIFTP_ARGON2_MEMORY_KIB
          .replace(/\./g, '_')
          .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
          .toUpperCase();
        expect(setting.env, key).to.equal(`MINIFTP_${snake}`);
        expect(setting.arg, key).to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(setting.doc, key).to.have.length.greaterThan(10);
      }
    });

    it('gives every setting its own flag, including the short ones', () => {
      const args = settings.map(({ setting }) => setting.arg);
      expect(new Set(args).size).to.equal(args.length);
      expect(args).to.include.members(['host', 'port', 'data-dir', 'keys-dir', 'admin-user']);
    });

    it('lists every flag, environment variable and default in the help text', () => {
      const help = configHelp();
      for (const { setting } of settings) {
        expect(help).to.include(`--${setting.arg}`);
        expect(help).to.include(setting.env);
      }
      expect(help).to.include('default 263168');
      expect(help).to.include('--config FILE');
    });
  });
});
