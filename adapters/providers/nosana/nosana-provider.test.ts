import { describeDepinAdapter } from '../depin/adapter-suite.js';
import { createNosanaProvider } from './nosana-provider.js';

describeDepinAdapter('nosana', createNosanaProvider);
