"""附件4 服务承诺表 and 附件5 工作人员联系表: what each unit's liaison fills for its sections."""
