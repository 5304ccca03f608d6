import { defineSuite } from './define-suite.ts';

defineSuite('idp');
