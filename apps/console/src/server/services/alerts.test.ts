import { describe, expect, it } from 'vitest';
import { diskBudgetAlert } from './alerts';

describe('disk budget alert', () => {
  it('warns above 90% of the budget, is critical at or over it, and says nothing without a budget', () => {
    expect(diskBudgetAlert({ diskBudgetBytes: null, localLayerBytes: 10 << 30 })).toBeUndefined();
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 900 })).toBeUndefined();
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 950 })).toEqual({ severity: 'warning', message: 'page server disk is 95% of its budget (950 of 1000 bytes of layers held locally)' });
    expect(diskBudgetAlert({ diskBudgetBytes: 1000, localLayerBytes: 1200 })?.severity).toBe('critical');
    expect(diskBudgetAlert({})).toBeUndefined();
  });
});
