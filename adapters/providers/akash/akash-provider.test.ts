import { describeDepinAdapter } from '../depin/adapter-suite.js';
import { createAkashProvider } from './akash-provider.js';

describeDepinAdapter('akash', createAkashProvider);
